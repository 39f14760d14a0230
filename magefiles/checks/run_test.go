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
