package checks

import (
	"context"
	"os"
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
	assert.Len(t, All(cfg), 19)
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
	r := &BenchResult{Tasks: 18, CPUs: 2, Go: "go1.26.8", ColdParallel: 100, ColdSerial: 160, Ratio: 0.625, TaskSum: 150,
		Warm: 0.8, WarmCached: 16, MageStartup: 0.3, RunnerWarm: 0.12, RunnerCold: 0.5,
		Failed: []string{"govulncheck"}, WarmExcluded: []string{"govulncheck", "bundle"}}
	md := r.Markdown()
	assert.Contains(t, md, "| parallel / serial wall ratio | 0.62 |")
	assert.Contains(t, md, "| warm, all cached (16 of 16 checks cached), mage start-up included | 0.80 |")
	assert.Contains(t, md, "Left out of the warm runs (failures are never cached): govulncheck, bundle.")
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 0.0, median(nil))
}
