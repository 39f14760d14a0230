package checks

import (
	"context"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
)

// TestCacheInvalidationPerCheck runs every check's real inputs (files,
// config, environment, tool versions) through the real runner, with the
// work replaced by a counter, and edits one kind of file at a time: only
// the checks that read it run again.
func TestCacheInvalidationPerCheck(t *testing.T) {
	root := fixture(t)
	e := env{"CI_VULN_DB": pypiDB(t), "CI_GOVULN_DB": goDB(t)}
	cfg := testConfig(t, root, e)

	var mu sync.Mutex
	var ran []string
	tasks := All(cfg)
	for i := range tasks {
		name := tasks[i].Name
		tasks[i].Run = func(context.Context, *pipeline.T) error {
			mu.Lock()
			defer mu.Unlock()
			ran = append(ran, name)
			return nil
		}
	}
	runAll := func(t *testing.T) []string {
		t.Helper()
		mu.Lock()
		ran = nil
		mu.Unlock()
		rep, out := run(t, cfg, tasks)
		require.True(t, rep.Passed, out)
		mu.Lock()
		defer mu.Unlock()
		got := append([]string(nil), ran...)
		sort.Strings(got)
		return got
	}

	all := runAll(t)
	require.Len(t, all, len(tasks), "the first run runs everything")
	require.Empty(t, runAll(t), "an unchanged tree is all cached")

	// The bundle validation reads src/ too: it checks the paths the
	// bundle's resources name.
	python := []string{"bandit", "black", "bundle", "flake8", "isort", "mypy", "pylint", "pytest-3.11", "secrets"}
	tests := []struct {
		name string
		edit func()
		want []string
	}{
		{"a payload Python file", func() { appendFile(t, root, "src/fixture/core.py", "# edited\n") }, python},
		{"a Python unit test", func() { appendFile(t, root, "tests/unit/test_core.py", "# edited\n") },
			[]string{"black", "flake8", "isort", "mypy", "pytest-3.11", "secrets"}},
		{"a Go file", func() { appendFile(t, root, "calc/calc.go", "// edited\n") },
			[]string{goCoverageName, "go-test-rest", "go-vet", "gofmt", "gosec", "govulncheck", "secrets", "staticcheck"}},
		{"go.sum", func() { writeFile(t, root, "go.sum", "") },
			[]string{goCoverageName, "go-test-rest", "go-vet", "gosec", "govulncheck", "secrets", "staticcheck"}},
		{"a bundle resource", func() { appendFile(t, root, "resources/job.yml", "# edited\n") },
			[]string{"bundle", goCoverageName, "go-test-rest", "secrets"}},
		{"requirements.txt", func() { appendFile(t, root, "requirements.txt", "# edited\n") },
			[]string{"req-audit", "secrets"}},
		{"pyproject.toml", func() { appendFile(t, root, "pyproject.toml", "# edited\n") },
			[]string{"black", "isort", "mypy", "pylint", "pytest-3.11", "secrets"}},
		{"flake8's setup.cfg", func() { appendFile(t, root, "setup.cfg", "# edited\n") },
			[]string{"flake8", "isort", "mypy", "pylint", "pytest-3.11", "secrets"}},
		{"coverage's .coveragerc", func() { writeFile(t, root, ".coveragerc", "[run]\nbranch = True\n") },
			[]string{"pytest-3.11", "secrets"}},
		{"a README", func() { writeFile(t, root, "README.md", "# fixture\n") }, []string{"secrets"}},
		{"the vulnerability acceptances", func() { writeFile(t, root, vulnIgnoreFile, "ignore: []\n") },
			[]string{"govulncheck", "req-audit", "secrets"}},
		{"the security threshold", func() { e["CI_SECURITY_SEVERITY"] = "medium" }, []string{"bandit", "gosec"}},
		{"the PyPI database", func() { writeFile(t, e["CI_VULN_DB"], "PyPI/NEW.json", `{"id": "NEW", "affected": []}`) },
			[]string{"req-audit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.edit()
			assert.Equal(t, tt.want, runAll(t))
			assert.Empty(t, runAll(t), "and then it is cached again")
		})
	}

	t.Run("strict mode is in no key: it only turns skips, never cached, into failures", func(t *testing.T) {
		strict := cfg
		strict.Strict = true
		var changed []string
		for i, tk := range All(strict) {
			if !equalStrings(tk.Inputs.Config, tasks[i].Inputs.Config) || !equalStrings(tk.Inputs.Env, tasks[i].Inputs.Env) {
				changed = append(changed, tk.Name)
			}
		}
		assert.Empty(t, changed)
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
