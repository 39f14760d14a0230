package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

const childEnv = "E2E_DEPLOY_CHILD"

// TestChildDeploy is the child process of TestExitHookKillsTheProcess: a
// deploy configured only through the environment, as `mage deploy:<env>` is.
func TestChildDeploy(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("runs only as the child process of TestExitHookKillsTheProcess")
	}
	no := false
	err := cd.Deploy(context.Background(), cd.Options{
		Env: os.Getenv("E2E_ENV"), Root: os.Getenv("E2E_ROOT"), Interactive: &no,
		Client: workspace.Options{SkipConfigFile: true, RateLimitPerSecond: 10000},
		Poll:   cd.PollPolicy{Initial: 5 * time.Millisecond, Step: 5 * time.Millisecond, Max: 50 * time.Millisecond},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// TestExitHookKillsTheProcess runs deploy:dev in a child process that the
// test hook ends right after a stage (os.Exit: no deferred cleanup runs),
// then re-runs it here: the dead process's lock is taken over and its
// record resumed.
func TestExitHookKillsTheProcess(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.repo.Tag("v1.0.0")
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildDeploy$")
	cmd.Env = append(os.Environ(),
		childEnv+"=1", "E2E_ENV=dev", "E2E_ROOT="+w.repo.Dir,
		"DATABRICKS_TOKEN="+w.srv.Token(), "DATABRICKS_HOST=", "DATABRICKS_CONFIG_PROFILE=",
		"GITHUB_ACTIONS=", cd.ExitAfterStageEnv+"=register")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "child: %v\n%s", err, out)
	assert.Equal(t, cd.ExitAfterStageCode, exit.ExitCode(), "%s", out)
	assert.Contains(t, string(out), "exiting after stage register")

	assert.True(t, w.lockHeld(cd.EnvDev), "the killed process left its lock")
	rec := w.latest(cd.EnvDev)
	assert.Equal(t, release.OutcomeInProgress, rec.Outcome)
	require.NotNil(t, rec.Stage("register"))
	assert.Equal(t, release.StageOK, rec.Stage("register").Status)
	assert.Nil(t, rec.Stage("serve"), "stopped right after register")

	r, err := w.deploy(cd.EnvDev)
	require.NoError(t, err, r.Output())
	assert.Contains(t, r.Output(), fmt.Sprintf("its process %d", cmd.Process.Pid))
	assert.Contains(t, r.Output(), "resuming record "+rec.ID)
	assert.Len(t, w.srv.JobRuns(w.config(cd.EnvDev).TrainingJob), 1)
	assert.Equal(t, map[string]int{w.served(cd.EnvDev, "1"): 100}, w.traffic(cd.EnvDev))
	assert.Equal(t, release.OutcomeDeployed, w.latest(cd.EnvDev).Outcome)
	assert.False(t, w.lockHeld(cd.EnvDev))
}
