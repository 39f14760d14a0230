package checks

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestDeclaration: each check and group is declared once under its own
// name, a group lists declared checks, and every generated target has its
// sentence.
func TestDeclaration(t *testing.T) {
	checks := map[string]bool{}
	for _, c := range Declared {
		assert.False(t, checks[c.Name], "%s declared twice", c.Name)
		checks[c.Name] = true
		assert.NotNil(t, c.Tasks, c.Name)
		assert.True(t, c.OwnTarget || c.Doc != "", "%s has no Doc for its mage target", c.Name)
	}
	groups := map[string]bool{}
	for _, g := range DeclaredGroups {
		assert.False(t, checks[g.Name] || groups[g.Name], "%s declared twice", g.Name)
		groups[g.Name] = true
		assert.NotEmpty(t, g.Doc, g.Name)
		assert.NotEmpty(t, g.Checks, g.Name)
		for _, c := range g.Checks {
			assert.True(t, checks[c], "group %s lists undeclared check %s", g.Name, c)
		}
	}
}

func TestGroupsOfTheDeclaration(t *testing.T) {
	cfg := Config{Root: t.TempDir(), Getenv: env{"CI_PYTHON_VERSIONS": "3.12, 3.13"}.get}
	goTests := []string{"go-test-rest", goCoverageName}
	pytests := []string{"pytest-3.12", "pytest-3.13"}
	assert.Equal(t, map[string][]string{
		"security": {"bandit", "gosec"},
		"audit":    {"govulncheck", "req-audit"},
		"go-test":  goTests,
		"pytest":   pytests,
		"unit":     append(append([]string(nil), goTests...), pytests...),
		"quality":  {"gofmt", "go-vet", "staticcheck", "black", "isort", "flake8", "pylint", "mypy", "workflows"},
	}, Groups(cfg))
}

// Only the release against the served emulator, which mostly waits on its
// real-time clock, runs beside the pipeline's jobs; every other check is
// CPU-bound and takes a job.
func TestOnlyTheServedReleaseWaits(t *testing.T) {
	var waiting []string
	for _, task := range All(Config{Root: repoRoot(t), Getenv: env{}.get}) {
		if task.Waits {
			waiting = append(waiting, task.Name)
		}
	}
	assert.Equal(t, []string{"go-test-served"}, waiting)
}
