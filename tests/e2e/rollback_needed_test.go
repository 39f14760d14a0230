package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// TestRollbackAfterProdFailsBeforeCanary: deploy:prod fails (or is killed)
// at each of its stages before the canary, as the CD workflow would see
// it, and then `rollback prod -yes` runs as the workflow's rollback job
// used to run it. Prod still serves its last stable release, so the
// rollback is a no-op that says so and exits 0: the endpoint, the journal
// and the workspace are unchanged (no mutating request at all), and
// `rollback prod -check` tells the workflow no rollback is needed. Killed
// in the middle of the canary, the check says one is needed, and the
// rollback puts the stable release back alone.
func TestRollbackAfterProdFailsBeforeCanary(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.toStaging()
	stable := w.served(cd.EnvProd, "1")
	locker := &release.Locker{Env: cd.EnvProd, Store: filesOf(w), Path: w.config(cd.EnvProd).LockFile, Now: time.Now}
	killedAfter := func(stage string) func(*cd.Options) {
		return func(o *cd.Options) {
			withEnv(cd.ExitAfterStageEnv, stage)(o)
			o.Process = cd.Process{PID: deadPID(t)}
		}
	}
	failures := []struct {
		stage string // where deploy:prod stops
		mod   func(*cd.Options)
		setup func()
		undo  func()
	}{
		{stage: "config", mod: func(o *cd.Options) { o.Vars["canary_traffic_percent"] = "150" }},
		{stage: "inputs", mod: func(o *cd.Options) { o.Engine = "bogus" }},
		{stage: "release", mod: func(o *cd.Options) { o.Release = "v9.9.9" }},
		{stage: "connect", mod: withEnv("DATABRICKS_TOKEN", "dapi-revoked")},
		{stage: "source", setup: func() { w.srv.InjectFaults("GET /api/2.0/mlflow/model-versions/get", emulator.Fault500) }},
		{stage: "approve", mod: func(o *cd.Options) { o.Yes = false }},
		{
			stage: "lock",
			setup: func() {
				_, err := locker.Acquire(w.ctx, release.Lock{Holder: "someone@elsewhere", Release: "v1.1.0", Machine: "elsewhere", PID: 1})
				require.NoError(t, err)
			},
			undo: func() { _, err := locker.Break(w.ctx); require.NoError(t, err) },
		},
		{stage: "record", mod: killedAfter("lock")},
		{stage: "backup", mod: killedAfter("record")},
		{stage: "bundle", setup: func() { w.srv.InjectFaults("POST /api/2.2/jobs/reset", emulator.Fault500) }},
		{stage: "bundle (killed)", mod: killedAfter("backup")},
		{stage: "promote", setup: func() { w.srv.InjectFaults("POST /api/2.0/mlflow/model-versions/create", emulator.Fault500) }},
		{stage: "promote (killed)", mod: killedAfter("bundle")},
		{stage: "canary (killed)", mod: killedAfter("promote")},
	}
	for _, f := range failures {
		t.Run(f.stage, func(t *testing.T) {
			if f.setup != nil {
				f.setup()
			}
			mods := []func(*cd.Options){}
			if f.mod != nil {
				mods = append(mods, f.mod)
			}
			failed := w.prodRun(mods...)
			err := failed.deploy(w.ctx)
			w.srv.ClearFaults()
			if f.undo != nil {
				f.undo()
			}
			require.Error(t, err, failed.Output())
			if !errors.Is(err, cd.ErrExitedAfterStage) {
				assert.Contains(t, err.Error(), "deploy:prod: "+f.stage+":", "the deploy stopped where this row says")
			}
			require.Equal(t, map[string]int{stable: 100}, w.traffic(cd.EnvProd), "the failed deploy did not touch the endpoint")

			recordsBefore := recordsJSON(t, w)
			w.srv.ResetRequests()
			chk := checkRollback(t, w, false)
			assert.Contains(t, chk, "no rollback needed: prod serves the last stable release v1.0.0 (model v1) alone")

			rb, err := w.rollback(cd.RollbackTarget{})
			require.NoError(t, err, "rollback prod -yes exits 0\n%s", rb.Output())
			assert.Contains(t, rb.Output(), "nothing to roll back: prod serves the last stable release v1.0.0")
			w.noMutation("rollback after a failure at " + f.stage)
			assert.Equal(t, map[string]int{stable: 100}, w.traffic(cd.EnvProd), "the endpoint is unchanged")
			assert.Equal(t, recordsBefore, recordsJSON(t, w), "the journal is unchanged")
		})
	}

	t.Run("killed half way through the canary", func(t *testing.T) {
		killed := w.prodRun(killedAfter("canary"))
		require.ErrorIs(t, killed.deploy(w.ctx), cd.ErrExitedAfterStage, killed.Output())
		cand := w.served(cd.EnvProd, "2")
		require.Equal(t, map[string]int{stable: 90, cand: 10}, w.traffic(cd.EnvProd))
		ep, ok := w.endpoint(cd.EnvProd)
		require.True(t, ok)
		assert.Equal(t, "v1.0.0", endpointTag(ep, cd.TagRelease), "the endpoint names the release 90% of its traffic goes to, not the canary's")
		assert.Contains(t, checkRollback(t, w, true), "rollback needed")
		rb, err := w.rollback(cd.RollbackTarget{})
		require.NoError(t, err, rb.Output())
		assert.Equal(t, map[string]int{stable: 100}, w.traffic(cd.EnvProd), "the stable release alone again")
	})
}

// checkRollback runs `rollback prod -check` as the CD workflow does and
// checks its answer in $GITHUB_OUTPUT; it returns the output.
func checkRollback(t *testing.T, w *world, needed bool) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "github_output")
	chk := w.run(cd.EnvProd, withEnv("GITHUB_OUTPUT", out))
	p, err := cd.RollbackCheck(w.ctx, chk.Opts, cd.RollbackTarget{})
	require.NoError(t, err, chk.Output())
	assert.Equal(t, !needed, p.Noop, p.Why)
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("%s=%t\n", cd.RollbackNeededOutput, needed), string(raw))
	return chk.Output()
}

// recordsJSON is prod's journal as JSON, to compare before and after.
func recordsJSON(t *testing.T, w *world) string {
	t.Helper()
	raw, err := json.Marshal(w.records(cd.EnvProd))
	require.NoError(t, err)
	return string(raw)
}

// endpointTag is the value of an endpoint's tag, "" when it has none.
func endpointTag(ep serving.ServingEndpointDetailed, key string) string {
	for _, tg := range ep.Tags {
		if tg.Key == key {
			return tg.Value
		}
	}
	return ""
}
