package checks

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGroupsAndNames(t *testing.T) {
	cfg := Config{Root: t.TempDir(), Getenv: env{}.get}
	names := map[string]bool{}
	for _, tk := range All(cfg) {
		names[tk.Name] = true
	}
	for g, members := range Groups(cfg) {
		for _, m := range members {
			assert.True(t, names[m], "group %s names unknown check %s", g, m)
		}
	}
	assert.Equal(t, []string{"bandit", "gosec", "secrets"}, Expand(cfg, []string{"security", "secrets", "bandit"}))
	assert.Contains(t, Names(cfg), "quality")
	assert.Contains(t, Names(cfg), "pytest-3.10")
	// No go.mod here: one catch-all Go test group and the coverage merge.
	assert.Len(t, All(cfg), 20)
	assert.Equal(t, []string{"go-test-rest", goCoverageName}, Expand(cfg, []string{"go-test"}))
}

func TestRunWritesTheReport(t *testing.T) {
	root := fixture(t)
	for _, k := range []string{"CI_JOBS", "CI_FAIL_FAST", "CI_NO_CACHE", "CI_STRICT", "CI_SECRETS_HISTORY", "GITHUB_ACTIONS"} {
		t.Setenv(k, "")
	}
	jobs, yes := 1, true
	rep, err := Run(context.Background(), root, RunOptions{Only: []string{"gofmt", "secrets"}, Jobs: &jobs, NoCache: &yes})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Jobs)
	var names []string
	for _, r := range rep.Results {
		names = append(names, r.Name)
	}
	assert.Equal(t, []string{"gofmt", "secrets"}, names)
	_, statErr := os.Stat(ReportPath(root))
	require.NoError(t, statErr)

	_, err = Run(context.Background(), root, RunOptions{Only: []string{"no-such-check"}})
	require.ErrorContains(t, err, `unknown check "no-such-check"`)
}

func TestBenchMarkdown(t *testing.T) {
	r := &BenchResult{Tasks: 24, CPUs: 2, Go: "go1.27.3", Commit: "0123456789abcdef", Load: []string{"3.1", "2.5"},
		Fresh: 400, Base: "fedcba9876543210", BaseCold: 200, Cold: 70, BaseRatio: 0.35, ColdSerial: 100, Ratio: 0.7,
		Warm: 0.8, WarmCached: 24, GoEdit: 25, GoEditRan: []string{"go-test-rest", "gosec"}, PyEdit: 12, PyEditRan: []string{"pytest-3.11"},
		MageStartup: 0.3, Failed: []string{"govulncheck"}, Excluded: []string{"govulncheck"}, PerCheck: []BenchCheck{{Name: "go-test-e2e", Cold: 50, Serial: 40}}}
	md := r.Markdown()
	assert.Contains(t, md, "fresh clone of 0123456789ab: 24 checks, 2 CPUs, go1.27.3, load average 3.1 → 2.5")
	assert.Contains(t, md, "| (a) fresh clone, no tool built | 400.0 | ≤ 480 | met |")
	assert.Contains(t, md, "| (b) of fedcba987654, the base, run just before (b) | 200.0 | | |")
	assert.Contains(t, md, "| (b) cold, tools built (`-nocache`) | 70.0 (0.35 of the base) | ≤ 0.40 of the base | met |")
	assert.Contains(t, md, "| (b) / (c) | 0.70 | ≤ 0.65 | missed |")
	assert.Contains(t, md, "| (d) warm, all cached (24 of 24 checks cached), mage start-up included | 0.80 | < 1 | met |")
	assert.Contains(t, md, "| 25.0 | ≤ 20 | missed |")
	assert.Contains(t, md, "Re-run by (e): go-test-rest, gosec.")
	assert.Contains(t, md, "Checks that failed in (b): govulncheck.")
	assert.Contains(t, md, "Left out of (d), (e) and (f) (a failure is never cached): govulncheck.")
	assert.Contains(t, md, "| go-test-e2e | 50.0 | 40.0 |")
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 0.0, median(nil))

	r.BaseCold, r.PyEdit = 0, 0
	assert.Contains(t, r.Markdown(), "| (b) cold, tools built (`-nocache`) | 70.0 | | |")
	assert.Contains(t, r.Markdown(), "| (f) after a one-line edit of a Python file | 0.0 | ≤ 30 | not measured |", "a bench cut short")
}

func TestBenchOneLineEdit(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.go", "package a\n")
	writeFile(t, dir, "b.py", "x = 1\n")
	require.NoError(t, appendLine(filepath.Join(dir, "a.go")))
	require.NoError(t, appendLine(filepath.Join(dir, "b.py")))
	assert.Equal(t, "package a\n// bench: a one-line edit\n", readFile(t, dir, "a.go"))
	assert.Equal(t, "x = 1\n# bench: a one-line edit\n", readFile(t, dir, "b.py"))
	require.Error(t, appendLine(filepath.Join(dir, "missing.go")))

	src, dst := t.TempDir(), t.TempDir()
	require.NoError(t, shareCaches(src, filepath.Join(dst, ".cache")))
	link, err := os.Readlink(filepath.Join(dst, ".cache", "tools"))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(src, "tools"), link)
	require.Error(t, shareCaches(src, filepath.Join(dst, ".cache")), "an existing cache is not replaced")
}
