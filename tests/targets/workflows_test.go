package targets

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

// mageCall finds `go run mage.go <target>` (or `mage <target>`) in a step.
var mageCall = regexp.MustCompile(`(?:go run mage\.go|\bmage)\s+((?:-\S+\s+)*)([a-zA-Z][\w:]*)`)

type workflow struct {
	Jobs map[string]struct {
		Steps []struct {
			Run string `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// calledTargets returns target -> "file: job" for every mage call in the workflows.
func calledTargets(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no workflows under %s", dir)
	calls := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var wf workflow
		require.NoError(t, yaml.Unmarshal(b, &wf), f)
		for job, j := range wf.Jobs {
			for _, s := range j.Steps {
				for _, m := range mageCall.FindAllStringSubmatch(s.Run, -1) {
					calls[strings.ToLower(m[2])] = filepath.Base(f) + ": " + job
				}
			}
		}
	}
	return calls
}

func missingTargets(calls map[string]string, listed map[string]bool) []string {
	lower := map[string]bool{}
	for name := range listed {
		lower[strings.ToLower(name)] = true
	}
	var missing []string
	for target, where := range calls {
		if !lower[target] {
			missing = append(missing, target+" ("+where+")")
		}
	}
	sort.Strings(missing)
	return missing
}

// TestWorkflowsCallExistingTargets makes a renamed target break CI, not a
// release: every target a workflow calls must be in `mage -l`.
func TestWorkflowsCallExistingTargets(t *testing.T) {
	root, err := project.Root()
	require.NoError(t, err)
	calls := calledTargets(t, filepath.Join(root, ".github", "workflows"))
	require.NotEmpty(t, calls)
	assert.Empty(t, missingTargets(calls, listedTargets(t)), "workflows call targets that do not exist")
}

// TestRenamedTargetIsCaught proves the check above can fail: a workflow
// calling a target that is not listed is reported with its job.
func TestRenamedTargetIsCaught(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cd.yml"), []byte(`
jobs:
  deploy-dev:
    steps:
      - run: go run mage.go deploy:development
      - run: go run mage.go -v ci
`), 0o644))
	calls := calledTargets(t, dir)
	assert.Equal(t, map[string]string{"deploy:development": "cd.yml: deploy-dev", "ci": "cd.yml: deploy-dev"}, calls)
	assert.Equal(t, []string{"deploy:development (cd.yml: deploy-dev)"}, missingTargets(calls, map[string]bool{"ci": true, "deploy:dev": true}))
}
