package targets

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

// servedWorkspaces starts `emulator:serve -workspaces=dev,staging,prod
// -schema=human_interrupt_agent` as its own process, with its default time
// scale, and returns the environment it printed to export.
func servedWorkspaces(t *testing.T) []string {
	t.Helper()
	root, err := project.Root()
	require.NoError(t, err)
	cmd := exec.Command(magebin, "emulator:serve", "-workspaces=dev,staging,prod", "-schema=human_interrupt_agent")
	cmd.Dir = root
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	var env []string
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := lines.Text()
		if kv, ok := strings.CutPrefix(line, "export "); ok {
			env = append(env, kv)
		}
		if strings.HasPrefix(line, "# ") {
			break // the summary line comes after every export
		}
	}
	require.Len(t, env, 6, "host and token of three workspaces")
	go func() { _, _ = bufio.NewReader(stdout).WriteTo(new(bytes.Buffer)) }()
	return env
}

// TestTargetsAgainstServedEmulator runs the real targets, each as its own
// process, against `emulator:serve` with its defaults (time scale 0.01):
// two releases through dev, staging and prod, the second a canary. The
// emulator's answers carry its time scale, so the canary waits its
// minutes, and the canary is judged on the export's minutes and promoted.
func TestTargetsAgainstServedEmulator(t *testing.T) {
	t.Parallel()
	env := servedWorkspaces(t)
	hosts := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if name, ok := strings.CutPrefix(k, "DATABRICKS_HOST_"); ok {
			hosts[strings.ToLower(name)] = v
		}
	}
	root, err := project.Root()
	require.NoError(t, err)
	repo := t.TempDir()
	require.NoError(t, project.CopyBundleHosts(root, repo, hosts))
	require.NoError(t, project.CopyBundleFiles(root, repo, "go.mod", "mage.go"))
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
	}
	git("init", "--quiet", "--initial-branch=main")
	git("add", ".")
	git("commit", "--quiet", "-m", "bundle")

	target := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(magebin, args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "NO_COLOR=1", "GITHUB_ACTIONS=", "GITHUB_STEP_SUMMARY=",
			"DATABRICKS_HOST=", "DATABRICKS_TOKEN=", "DATABRICKS_CONFIG_PROFILE=",
			"CANARY_PROBES=1", "BUNDLE_VAR_load_duration=1s", "BUNDLE_VAR_load_concurrency=2")
		cmd.Env = append(cmd.Env, env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		t.Logf("%s took %s", strings.Join(args, " "), time.Since(start).Round(10*time.Millisecond))
		require.NoError(t, err, "%v:\n%s", args, out.String())
		return out.String()
	}
	release := func(tag string) string {
		t.Helper()
		git("commit", "--quiet", "--allow-empty", "-m", "release "+tag)
		git("tag", tag)
		target("deploy:dev")
		target("verify:dev")
		target("deploy:staging", "-yes")
		target("verify:staging")
		target("validate", "prod")
		return target("deploy:prod", "-yes")
	}
	release("v1.0.0")
	out := release("v1.1.0")
	assert.Contains(t, out, "the workspace is the emulator at time scale 0.01: the rollout's waits follow its clock (a minute takes 600ms)")
	assert.Contains(t, out, "decision: Promote")
	assert.NotContains(t, out, "insufficient traffic")
	status := target("status", "prod")
	assert.Contains(t, status, "v1.1.0")
	assert.Contains(t, status, "validation: relied on passed: must-interrupt recall 45.6% (104/228")
}
