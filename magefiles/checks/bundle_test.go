package checks

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
)

// bundleOnly runs the bundle check alone (its security dependencies are
// tested elsewhere).
func bundleOnly(cfg Config) pipeline.Task {
	b := Bundle(cfg)
	b.Deps = nil
	return b
}

func TestBundleYAMLSyntax(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		line    int
		status  pipeline.Status
	}{
		{"valid bundle passes", "", "", 0, pipeline.StatusPass},
		{"invalid YAML in resources fails at its line", "resources/serving.yml",
			"resources:\n  model_serving_endpoints:\n    agent:\n      name: [unclosed\n", 4, pipeline.StatusFail},
		{"a tab indent in databricks.yml fails", "databricks.yml", "bundle:\n\tname: x\n", 2, pipeline.StatusFail},
		{"a bad second document is found", "resources/multi.yaml", "a: 1\n---\nb: : c\n", 3, pipeline.StatusFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fixture(t)
			if tt.file != "" {
				writeFile(t, root, tt.file, tt.content)
			}
			cfg := testConfig(t, root, env{})
			res, _ := runOne(t, cfg, bundleOnly(cfg))
			require.Equal(t, tt.status, res.Status, res.Error)
			if tt.status == pipeline.StatusPass {
				assert.Equal(t, "valid (all targets, strict)", res.Summary)
				return
			}
			require.Len(t, res.Findings, 1)
			f := res.Findings[0]
			assert.Equal(t, []any{tt.file, tt.line, "yaml"}, []any{f.File, f.Line, f.Rule})
			assert.Contains(t, res.Error, tt.file)
			assert.Contains(t, f.Message, "invalid YAML: ")
		})
	}
}

func TestBundleWithoutDatabricksYmlSkips(t *testing.T) {
	cfg := testConfig(t, t.TempDir(), env{})
	res, _ := runOne(t, cfg, bundleOnly(cfg))
	assert.Equal(t, pipeline.StatusSkipped, res.Status)
	assert.Equal(t, "no databricks.yml", res.Reason)
}

func TestBundleValidatorSeam(t *testing.T) {
	root := fixture(t)
	cfg := testConfig(t, root, env{})
	var called string
	cfg.Bundle = &BundleValidator{
		Name:   "full validation",
		Inputs: []string{"databricks.yml", "resources/**", "src/**"},
		Validate: func(_ context.Context, r string) ([]pipeline.Finding, error) {
			called = r
			return []pipeline.Finding{
				{File: "resources/job.yml", Line: 7, Rule: "bundle", Message: "unknown field: python_wheel_task.entrypoint"},
				{File: "databricks.yml", Line: 1, Rule: "bundle", Severity: "warning", Message: "no prod target"},
			}, nil
		},
	}
	b := Bundle(cfg)
	assert.Equal(t, []string{"bandit", "gosec", "secrets"}, b.Deps, "runs after the security and secret scans")
	assert.Equal(t, cfg.Bundle.Inputs, b.Inputs.Files)
	assert.Contains(t, b.Inputs.Config, "validator=full validation")

	res, _ := runOne(t, cfg, bundleOnly(cfg))
	assert.Equal(t, root, called)
	require.Equal(t, pipeline.StatusFail, res.Status)
	assert.Equal(t, "1 error(s) (full validation)", res.Summary)
	assert.Contains(t, res.Error, "resources/job.yml:7: unknown field")

	cfg.Bundle.Validate = func(context.Context, string) ([]pipeline.Finding, error) { return nil, errors.New("boom") }
	res, _ = runOne(t, cfg, bundleOnly(cfg))
	assert.Equal(t, pipeline.StatusFail, res.Status)
	assert.Contains(t, res.Error, "bundle validation (full validation): boom")
}

func TestYAMLErrorLines(t *testing.T) {
	tests := []struct {
		doc  string
		line int
	}{
		{"a: 1\nb: [1, 2\nc: 3\n", 2},    // parser error: the unclosed "["
		{"a: 1\nb: {x: 1\n", 2},          // parser error: the unclosed "{"
		{"a:\n  b: 1\n c: 2\n", 3},       // parser error: the key that breaks the mapping
		{"a: 1\n\tb: 2\n", 2},            // scanner error: the tab
		{"a: 1\nb: \"unterminated\n", 2}, // scanner error: the quote
		{"key: value: other\n", 1},       // scanner error on the first line
		{"ok: 1\n---\n- a\nb: 2\n", 3},   // second document: the sequence the key breaks
	}
	for _, tt := range tests {
		line, msg, bad := yamlError([]byte(tt.doc))
		require.True(t, bad, tt.doc)
		assert.Equal(t, tt.line, line, "%q: %s", tt.doc, msg)
	}
	_, _, bad := yamlError([]byte("a: 1\n---\nb: [1, 2]\n"))
	assert.False(t, bad)
}

// TestBundleFullValidation: beyond syntax, the check loads every target the
// way deploys do and points at the line of each problem.
func TestBundleFullValidation(t *testing.T) {
	tests := []struct {
		name, file, content string
		line                int
		message             string
	}{
		{"a typo of tasks in a job", "resources/job.yml",
			"resources:\n  jobs:\n    train:\n      name: fixture-train\n      taks:\n        - task_key: train\n",
			5, "taks"},
		{"traffic that does not sum to 100", "resources/serving.yml",
			"resources:\n  model_serving_endpoints:\n    agent:\n      name: agent\n      config:\n        served_entities:\n          - name: a\n            entity_name: m\n            entity_version: \"1\"\n            workload_size: Small\n            scale_to_zero_enabled: true\n        traffic_config:\n          routes:\n            - served_model_name: a\n              traffic_percentage: 90\n",
			0, "100"},
		{"an undefined variable", "resources/job.yml",
			"resources:\n  jobs:\n    train:\n      name: ${var.missing}\n      tasks:\n        - task_key: train\n          python_wheel_task:\n            package_name: fixture\n            entry_point: train\n",
			4, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fixture(t)
			writeFile(t, root, tt.file, tt.content)
			cfg := testConfig(t, root, env{})
			res, _ := runOne(t, cfg, bundleOnly(cfg))
			require.Equal(t, pipeline.StatusFail, res.Status, res.Error)
			require.NotEmpty(t, res.Findings)
			f := firstError(res.Findings)
			assert.Equal(t, "error", f.Severity)
			assert.Equal(t, tt.file, f.File)
			if tt.line > 0 {
				assert.Equal(t, tt.line, f.Line)
			}
			assert.Contains(t, f.Message, tt.message)
			assert.Contains(t, f.Message, "target dev: ")
		})
	}
}
