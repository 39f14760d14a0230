package targets

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

func runIn(t *testing.T, dir, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	// No credentials, no CI: every case here must stop before a workspace.
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "GITHUB_ACTIONS=", "DATABRICKS_TOKEN=", "DATABRICKS_HOST=", "DATABRICKS_CONFIG_PROFILE=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), code
}

// TestRollbackUnlockDemoTargets drives the thin targets' argument handling
// through the compiled magefiles (magebin, built once by TestMain), and the
// scripts/rollback.sh wrapper.
func TestRollbackUnlockDemoTargets(t *testing.T) {
	root, err := project.Root()
	require.NoError(t, err)
	bin := magebin
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"rollback"}, 2, `not enough arguments for target "Rollback"`},
		{[]string{"rollback", "prod", "-version=abc"}, 1, `-version="abc" is not a model version number`},
		{[]string{"rollback", "prod", "-to=v1.0.0", "-version=3"}, 1, "not both"},
		{[]string{"rollback", "prod", "-to=latest"}, 1, `-to="latest"`},
		{[]string{"rollback", "qa"}, 1, `unknown environment "qa"`},
		{[]string{"unlock", "qa"}, 1, `unknown environment "qa"`},
		{[]string{"demo", "-timescale=-1"}, 1, "time scale -1 must not be negative"},
		// Bad options are refused before any workspace is reached.
		{[]string{"deploy:prod", "-yes", "-engine=bogus"}, 1, `-engine: unknown deploy engine "bogus"`},
		{[]string{"deploy:dev", "-engine=cli"}, 1, "the databricks CLI is not on PATH"},
		{[]string{"release:notes", "-tag=latest"}, 1, `-tag="latest"`},
		{[]string{"report", "-since=soon"}, 1, `-since="soon": give days (90d), weeks (12w) or a duration (36h)`},
		{[]string{"plan", "qa", "-out=x.json"}, 1, `unknown environment "qa"`},
	}
	for _, tt := range tests {
		out, code := runIn(t, root, bin, tt.args...)
		assert.Equal(t, tt.code, code, "%v: %s", tt.args, out)
		assert.Contains(t, out, tt.want, "%v", tt.args)
	}

	script := filepath.Join(root, "scripts", "rollback.sh")
	scripts := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--env", "production", "--to-version", "v1.0.0", "--dry-run"}, 0, "go run mage.go rollback prod -to=v1.0.0\n"},
		{[]string{"--env=staging", "--to-version=3", "--yes", "--dry-run"}, 0, "go run mage.go rollback staging -version=3 -yes\n"},
		{[]string{"--env", "development", "--dry-run"}, 0, "go run mage.go rollback dev\n"},
		{[]string{"--to-version", "v1.0.0"}, 2, "error: --env is required"},
		{[]string{"--env", "qa"}, 2, "error: unknown environment: qa"},
		{[]string{"--env", "prod", "--to-version", "latest"}, 2, "want a release tag (v1.0.0) or a model version number (3)"},
		{[]string{"--env", "prod", "--to-version", "01"}, 2, "want a release tag"},
		{[]string{"--env"}, 2, "--env needs a value"},
		{[]string{"--bogus"}, 2, "unknown argument: --bogus"},
		{[]string{"--help"}, 0, "scripts/rollback.sh --env production --to-version v1.0.0"},
	}
	for _, tt := range scripts {
		out, code := runIn(t, root, "bash", append([]string{script}, tt.args...)...)
		assert.Equal(t, tt.code, code, "%v: %s", tt.args, out)
		assert.Contains(t, out, tt.want, "%v", tt.args)
	}
	// A bad invocation names the usage.
	out, _ := runIn(t, root, "bash", script, "--env", "qa")
	assert.Contains(t, out, "Usage:")
}
