package checks

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
)

// badWorkflow needs a job that does not exist and interpolates untrusted
// input into a script: two problems actionlint must report.
const badWorkflow = `name: bad
on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    needs: missing-job
    steps:
      - run: echo "${{ github.event.pull_request.title }}"
`

// TestParseActionlint reads output captured from a real actionlint run on
// badWorkflow.
func TestParseActionlint(t *testing.T) {
	out, err := os.ReadFile(filepath.Join("testdata", "golden", "actionlint-bad.json"))
	require.NoError(t, err)
	fs, err := parseActionlint("/repo", out)
	require.NoError(t, err)
	require.Len(t, fs, 2)
	assert.Equal(t, pipeline.Finding{File: ".github/workflows/bad.yml", Line: 4, Col: 3, Rule: "job-needs",
		Message: `job "deploy" needs job "missing-job" which does not exist in this workflow`}, fs[0])
	assert.Equal(t, "expression", fs[1].Rule)
	assert.Equal(t, 8, fs[1].Line)

	none, err := parseActionlint("/repo", []byte("\n"))
	require.NoError(t, err)
	assert.Empty(t, none)

	_, err = parseActionlint("/repo", []byte("not json"))
	require.Error(t, err)
}

func TestWorkflowsCheck(t *testing.T) {
	requireTool(t, "actionlint")
	tests := []struct {
		name       string
		workflow   string
		wantStatus pipeline.Status
		wantRule   string
	}{
		{"clean workflow passes", "name: ok\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n", pipeline.StatusPass, ""},
		{"broken workflow fails at its line", badWorkflow, pipeline.StatusFail, "job-needs"},
		{"no workflows is a visible skip", "", pipeline.StatusSkipped, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "repo")
			require.NoError(t, os.MkdirAll(root, 0o755))
			git(t, root, "init", "-q")
			if tt.workflow != "" {
				writeFile(t, root, ".github/workflows/ci.yml", tt.workflow)
			}
			r, out := runOne(t, testConfig(t, root, env{}), Workflows(testConfig(t, root, env{})))
			assert.Equal(t, tt.wantStatus, r.Status, out)
			if tt.wantRule != "" {
				assert.True(t, findingAt(r.Findings, ".github/workflows/ci.yml", 4, tt.wantRule), "findings: %+v", r.Findings)
			}
		})
	}
}
