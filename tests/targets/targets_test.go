// Package targets compiles the magefiles into a binary and drives the thin
// targets through it, so a target that no longer compiles or has lost its
// wiring fails the tests rather than a release.
package targets

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

// magebin is built once per test binary.
var magebin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "magebin")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		root, err := project.Root()
		if err != nil {
			panic(err)
		}
		magebin = filepath.Join(dir, "mage-targets")
		cmd := exec.Command("go", "run", "mage.go", "-compile", magebin)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			os.Stderr.Write(out)
			panic("compile magefiles: " + err.Error())
		}
		return m.Run()
	}()
	os.Exit(code)
}

// mage runs the compiled targets in the repository root.
func mage(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root, err := project.Root()
	require.NoError(t, err)
	cmd := exec.Command(magebin, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "GITHUB_ACTIONS=", "GITHUB_STEP_SUMMARY=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

// listedTargets parses `-l` output into target names.
func listedTargets(t *testing.T) map[string]bool {
	t.Helper()
	out, err := mage(t, "-l")
	require.NoError(t, err, out)
	targets := map[string]bool{}
	inTargets := false
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Targets:") {
			inTargets = true
			continue
		}
		if inTargets && strings.HasPrefix(line, "  ") {
			if f := strings.Fields(line); len(f) > 0 {
				targets[strings.TrimSuffix(f[0], "*")] = true
			}
		}
	}
	return targets
}

func TestEveryTargetHasAOneLineDoc(t *testing.T) {
	out, err := mage(t, "-l")
	require.NoError(t, err, out)
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "  ") {
			continue
		}
		f := strings.Fields(line)
		assert.Greater(t, len(f), 1, "target %q has no doc comment: `mage -l` is the menu", strings.TrimSpace(line))
	}
}

func TestCoreTargetsExist(t *testing.T) {
	targets := listedTargets(t)
	for _, want := range []string{"ci", "test", "ci:gofmt", "ci:pytest", "ci:goTest"} {
		assert.True(t, targets[want], "target %s missing from mage -l", want)
	}
}

func TestCheckTargetRunsThroughTheRunner(t *testing.T) {
	out, err := mage(t, "ci:gofmt")
	require.NoError(t, err, out)
	assert.Regexp(t, `(?m)^gofmt\s+(pass|cached)\b`, out)
}

func TestUnknownTargetFails(t *testing.T) {
	out, err := mage(t, "deploy:moon")
	require.Error(t, err)
	assert.Contains(t, out, "Unknown target")
}

func TestBundleTargets(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
		want    string
	}{
		{"every target validates", []string{"bundle:validate", "all"}, false, "prod"},
		{"resolved config is JSON", []string{"bundle:config", "staging"}, false, `"langgraph-human-interrupt-staging"`},
		{"unknown target fails", []string{"bundle:validate", "moon"}, true, "moon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := mage(t, tt.args...)
			if tt.wantErr {
				require.Error(t, err, out)
			} else {
				require.NoError(t, err, out)
			}
			assert.Contains(t, out, tt.want)
		})
	}
}
