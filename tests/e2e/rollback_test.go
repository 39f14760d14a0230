package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/cd/cdtest"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
)

// rollback runs `mage rollback prod` with the test defaults.
func (w *world) rollback(t cd.RollbackTarget, mods ...func(*cd.Options)) (*cdtest.Run, error) {
	r := w.run(cd.EnvProd, mods...)
	return r, cd.Rollback(w.ctx, r.Opts, t)
}

// freshMachine runs from a new clone of the repository with no artifacts:
// everything a rollback needs comes from the workspace.
func (w *world) freshMachine() (*cdtest.Repo, func(*cd.Options)) {
	w.t.Helper()
	dir := filepath.Join(w.t.TempDir(), "clone")
	w.repo.Git("clone", "--quiet", w.repo.Dir, dir)
	return &cdtest.Repo{T: w.t, Dir: dir}, func(o *cd.Options) {
		o.Root = dir
		o.ArtifactsDir = filepath.Join(dir, "artifacts")
	}
}

// TestRollbackToPrevious: v1.1.0 rolled out but failed verify:prod, so the
// last stable release, v1.0.0, comes back from the journal in the
// workspace, on a machine that never deployed; the rollback is recorded,
// the replaced release marked rolled back; a second rollback finds prod
// on its last stable release and changes nothing.
func TestRollbackToPrevious(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ship("v1.0.0", allEnvs...)
	w.ship("v1.1.0", cd.EnvDev, cd.EnvStaging)
	d, err := w.deploy(cd.EnvProd)
	require.NoError(t, err, d.Output())
	w.badVersion("2", emulator.Behavior{ErrorRate: 1})
	_, err = w.verify(cd.EnvProd)
	require.Error(t, err, "verify:prod fails: the release is not stable any more")
	w.badVersion("2", emulator.Behavior{})
	clone, fresh := w.freshMachine()

	r, err := w.rollback(cd.RollbackTarget{}, fresh)
	require.NoError(t, err, r.Output())
	assert.Equal(t, map[string]int{w.served(cd.EnvProd, "1"): 100}, w.traffic(cd.EnvProd))
	out := r.Output()
	assert.Contains(t, out, "target: v1.0.0 (model v1): the last stable release")
	assert.Contains(t, out, "change: langgraph_human_interrupt_model_prod-2 100% -> langgraph_human_interrupt_model_prod v1")

	rbs := w.prodRecords(release.KindRollback)
	require.Len(t, rbs, 1)
	rb := rbs[0]
	assert.Equal(t, release.OutcomeStable, rb.Outcome)
	assert.Equal(t, "v1.0.0", rb.Release)
	assert.Equal(t, "1", rb.Model.Version)
	assert.Contains(t, rb.Approval, "-yes")
	assert.Equal(t, []release.Route{{ServedModelName: w.served(cd.EnvProd, "2"), Percent: 100}}, rb.Previous.Traffic)
	assert.Equal(t, "v1.0.0", rb.Endpoint.Tags["release"], "the endpoint is tagged with the release it serves")
	var sum cd.RollbackSummary
	ok, err := rb.Attachment(cd.AttachRollback, &sum)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "v1.1.0", sum.From)
	assert.Equal(t, "v1.1.0", sum.Resolves)
	for _, st := range []string{"target", "approve", "lock", "record", "backup", "rollback", "smoke"} {
		require.NotNil(t, rb.Stage(st), st)
		assert.Equal(t, release.StageOK, rb.Stage(st).Status, st)
	}
	var backup string
	_, err = rb.Attachment(rollout.BackupAttachment, &backup)
	require.NoError(t, err)
	assert.Contains(t, backup, "rollback-to-v1.0.0")

	deploys := w.prodRecords(release.KindDeploy)
	assert.Equal(t, release.OutcomeRolledBack, deploys[1].Outcome, "v1.1.0 is marked rolled back")
	assert.Equal(t, release.OutcomeVerified, deploys[0].Outcome)
	assert.False(t, w.lockHeld(cd.EnvProd))
	// The fresh machine keeps its own copy of the records it wrote.
	_, err = os.Stat(filepath.Join(r.Opts.ArtifactsDir, "releases", "prod", rb.ID+".json"))
	assert.NoError(t, err)

	sr := w.run(cd.EnvProd)
	st, err := cd.Status(w.ctx, sr.Opts)
	require.NoError(t, err)
	assert.Equal(t, release.KindRollback, st.Latest.Kind)
	assert.Contains(t, sr.Output(), "latest:    rollback to v1.0.0 stable")

	// verify:prod checks the rollback's release, from a checkout of its
	// tag (at v1.1.0 it refuses: that is not what prod serves).
	vr, err := w.verify(cd.EnvProd)
	require.ErrorContains(t, err, "HEAD is tagged v1.1.0, but prod's latest deploy is v1.0.0", vr.Output())
	clone.Git("checkout", "--quiet", "--force", "v1.0.0")
	vr, err = w.verify(cd.EnvProd, fresh)
	require.NoError(t, err, vr.Output())
	assert.Equal(t, release.OutcomeVerified, w.prodRecords(release.KindRollback)[0].Outcome)

	w.srv.ResetRequests()
	r, err = w.rollback(cd.RollbackTarget{})
	require.NoError(t, err, r.Output())
	assert.Contains(t, r.Output(), "nothing to roll back: prod serves the last stable release v1.0.0 (model v1) alone")
	w.noMutation("prod serves its last stable release")
}

// TestRollbackToNamed: a named release and a named model version.
func TestRollbackToNamed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ship("v1.0.0", allEnvs...)
	w.ship("v1.1.0", allEnvs...)
	w.ship("v1.2.0", allEnvs...)

	r, err := w.rollback(cd.RollbackTarget{Release: "v1.0.0"})
	require.NoError(t, err, r.Output())
	assert.Equal(t, map[string]int{w.served(cd.EnvProd, "1"): 100}, w.traffic(cd.EnvProd))
	assert.Equal(t, release.OutcomeRolledBack, w.prodRecords(release.KindDeploy)[2].Outcome, "v1.2.0 replaced")

	r, err = w.rollback(cd.RollbackTarget{Version: "2"})
	require.NoError(t, err, r.Output())
	assert.Equal(t, map[string]int{w.served(cd.EnvProd, "2"): 100}, w.traffic(cd.EnvProd))
	rbs := w.prodRecords(release.KindRollback)
	require.Len(t, rbs, 2)
	assert.Equal(t, "v1.1.0", rbs[1].Release, "the version's release is found in the journal")
	assert.Contains(t, r.Output(), "model version named with -version; last deployed as v1.1.0")

	// Already there: nothing to change, nothing recorded.
	w.srv.ResetRequests()
	r, err = w.rollback(cd.RollbackTarget{Release: "v1.1.0"})
	require.NoError(t, err, r.Output())
	assert.Contains(t, r.Output(), "nothing to roll back")
	w.noMutation("rollback to what is served")
	assert.Len(t, w.prodRecords(release.KindRollback), 2)
}

// TestRollbackAfterAbort: after an aborted canary the stable version
// serves again, so the default rollback (the CD workflow's) changes
// nothing; a named release still goes further back, and its notification
// resolves the aborted release's incident.
func TestRollbackAfterAbort(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ship("v1.0.0", allEnvs...)
	w.ship("v1.1.0", allEnvs...)
	w.ship("v1.2.0", cd.EnvDev, cd.EnvStaging)
	w.badVersion("3", emulator.Behavior{ErrorRate: 0.3})
	_, err := w.deploy(cd.EnvProd)
	var ae *rollout.AbortError
	require.ErrorAs(t, err, &ae)

	w.srv.ResetRequests()
	r, err := w.rollback(cd.RollbackTarget{})
	require.NoError(t, err, r.Output())
	assert.Contains(t, r.Output(), "prod serves the last stable release v1.1.0 (model v2) alone; the canary of v1.2.0 after it was aborted")
	w.noMutation("nothing to roll back after an abort")

	r, err = w.rollback(cd.RollbackTarget{Release: "v1.0.0"})
	require.NoError(t, err, r.Output())
	assert.Equal(t, map[string]int{w.served(cd.EnvProd, "1"): 100}, w.traffic(cd.EnvProd))
	var sum cd.RollbackSummary
	_, err = w.prodRecords(release.KindRollback)[0].Attachment(cd.AttachRollback, &sum)
	require.NoError(t, err)
	assert.Equal(t, "v1.1.0", sum.From)
	assert.Equal(t, "v1.2.0", sum.Resolves, "the incident on call is answering")
}

// TestRollbackAfterFailedSmoke: a release that passed its canary but
// failed the smoke tests serves 100%; the default rollback goes back to
// the last stable release.
func TestRollbackAfterFailedSmoke(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ship("v1.0.0", allEnvs...)
	w.ship("v1.1.0", cd.EnvDev, cd.EnvStaging)
	// Right answers to the canary's clients, wrong ones to the smoke cases.
	w.badVersion("2", emulator.Behavior{Latency: cdtest.ModelLatency, Predict: func(records []any) []any {
		out := make([]any, len(records))
		for i := range records {
			out[i] = map[string]any{"status": "error", "result": "wrong", "thread_id": "x"}
		}
		return out
	}})
	r, err := w.deploy(cd.EnvProd)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "smoke tests after the rollout")
	assert.Contains(t, err.Error(), "run `mage rollback prod`", r.Output())
	assert.Equal(t, release.OutcomeFailed, w.latest(cd.EnvProd).Outcome)
	assert.Equal(t, map[string]int{w.served(cd.EnvProd, "2"): 100}, w.traffic(cd.EnvProd))

	r, err = w.rollback(cd.RollbackTarget{})
	require.NoError(t, err, r.Output())
	assert.Contains(t, r.Output(), "the last stable release")
	assert.Equal(t, map[string]int{w.served(cd.EnvProd, "1"): 100}, w.traffic(cd.EnvProd))
	assert.Equal(t, release.OutcomeRolledBack, w.prodRecords(release.KindDeploy)[1].Outcome)
}

// TestBadRollbackTargetsChangeNothing: every refusal is clear and happens
// before anything changes (the request log shows no mutation).
func TestBadRollbackTargetsChangeNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ship("v1.0.0", allEnvs...)
	w.ship("v1.1.0", allEnvs...)
	w.ship("v1.2.0", cd.EnvDev, cd.EnvStaging)
	w.badVersion("3", emulator.Behavior{ErrorRate: 0.3})
	_, err := w.deploy(cd.EnvProd)
	require.Error(t, err)
	// A deleted model version: v1.0.0's.
	require.NoError(t, w.w.ModelRegistry.DeleteModelVersion(w.ctx, ml.DeleteModelVersionRequest{Name: w.prodModel(), Version: "1"}))

	tests := []struct {
		name   string
		target cd.RollbackTarget
		mods   []func(*cd.Options)
		want   string
		is     error
	}{
		{name: "unknown release", target: cd.RollbackTarget{Release: "v9.9.9"}, want: "prod has no record of release v9.9.9; known: v1.2.0 (v3, aborted), v1.1.0 (v2, verified), v1.0.0 (v1, verified): nothing was changed"},
		{name: "aborted release", target: cd.RollbackTarget{Release: "v1.2.0"}, want: "release v1.2.0 never became stable in prod"},
		{name: "missing model version", target: cd.RollbackTarget{Version: "42"}, want: "has no version 42"},
		{name: "deleted model version", target: cd.RollbackTarget{Release: "v1.0.0"}, want: "has no version 1 (deleted, or never registered in prod): nothing was changed"},
		{name: "not a tag", target: cd.RollbackTarget{Release: "1.0"}, want: "-to=\"1.0\""},
		{name: "not a version", target: cd.RollbackTarget{Version: "v2"}, want: "-version=\"v2\" is not a model version number"},
		{name: "both", target: cd.RollbackTarget{Release: "v1.0.0", Version: "1"}, want: "not both"},
		{name: "no approval and no terminal", target: cd.RollbackTarget{Version: "3"}, mods: []func(*cd.Options){func(o *cd.Options) { o.Yes = false }}, is: cd.ErrNotApproved},
		{name: "answered no at the terminal", target: cd.RollbackTarget{Version: "3"}, mods: []func(*cd.Options){func(o *cd.Options) { o.Yes = false }, terminal("no\n")}, is: cd.ErrNotApproved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.t = t
			w.srv.ResetRequests()
			before := w.traffic(cd.EnvProd)
			r, err := w.rollback(tt.target, tt.mods...)
			require.Error(t, err, r.Output())
			if tt.want != "" {
				assert.Contains(t, err.Error(), tt.want)
			}
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			w.noMutation(tt.name)
			assert.Equal(t, before, w.traffic(cd.EnvProd))
		})
	}
	w.t = t
	assert.Empty(t, w.prodRecords(release.KindRollback), "no rollback was recorded")

	// A workspace whose endpoint never served anything.
	empty := newWorld(t)
	empty.repo.Tag("v1.0.0")
	_, err = empty.rollback(cd.RollbackTarget{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "endpoint langgraph-human-interrupt-prod does not exist in prod: there is nothing to roll back")
	empty.noMutation("no endpoint")
}

// TestUnlock: the lock of a dead deploy is shown and removed once
// confirmed; without confirmation it stays.
func TestUnlock(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ship("v1.0.0", cd.EnvDev)
	l := &release.Locker{Env: cd.EnvDev, Store: filesOf(w), Path: w.config(cd.EnvDev).LockFile}
	_, err := l.Acquire(w.ctx, release.Lock{Holder: "alice@laptop", Release: "v0.9.0", Machine: "laptop", PID: 1})
	require.NoError(t, err)

	r := w.run(cd.EnvDev, func(o *cd.Options) { o.Yes = false })
	_, err = cd.Unlock(w.ctx, r.Opts)
	require.ErrorIs(t, err, cd.ErrNotApproved)
	assert.Contains(t, r.Output(), "holder:  alice@laptop")
	assert.True(t, w.lockHeld(cd.EnvDev))

	r = w.run(cd.EnvDev, func(o *cd.Options) { o.Yes = false }, terminal("dev\n"))
	removed, err := cd.Unlock(w.ctx, r.Opts)
	require.NoError(t, err, r.Output())
	require.NotNil(t, removed)
	assert.Equal(t, "alice@laptop", removed.Holder)
	assert.False(t, w.lockHeld(cd.EnvDev))
	assert.Contains(t, r.Output(), "Remove the lock of dev held by alice@laptop?")

	r = w.run(cd.EnvDev)
	removed, err = cd.Unlock(context.Background(), r.Opts)
	require.NoError(t, err)
	assert.Nil(t, removed)
	assert.Contains(t, r.Output(), "dev is not locked")
}
