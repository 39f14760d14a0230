package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

func TestPlanChangesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.repo.Tag("v1.0.0")
	ctx := context.Background()

	// Before anything exists: dev would train, create everything.
	w.srv.ResetRequests()
	r := w.run(cd.EnvDev)
	p, err := cd.Plan(ctx, r.Opts)
	require.NoError(t, err)
	w.noMutation("plan dev")
	assert.Equal(t, "train", p.Model.Action)
	assert.Nil(t, p.EndpointBefore)
	actions := map[string]workspace.Action{}
	for _, c := range p.Bundle {
		actions[c.Kind] = c.Action
	}
	assert.Equal(t, workspace.ActionCreate, actions["job"])
	assert.Equal(t, workspace.ActionCreate, actions["model"])
	assert.Equal(t, workspace.ActionDeferred, actions["endpoint"])
	assert.Contains(t, r.Output(), "Plan for dev")
	assert.Contains(t, r.Output(), "before: nothing served")

	// Staging before dev is verified: the plan says the deploy would refuse.
	r = w.run(cd.EnvStaging)
	p, err = cd.Plan(ctx, r.Opts)
	require.NoError(t, err)
	require.NotEmpty(t, p.Blocks)
	assert.Contains(t, p.Blocks[0], "dev has no release record of v1.0.0")

	w.release(cd.EnvDev, cd.EnvStaging, cd.EnvProd)
	w.repo.Commit("next")
	w.repo.Tag("v1.1.0")
	w.release(cd.EnvDev, cd.EnvStaging)

	w.srv.ResetRequests()
	r = w.run(cd.EnvProd)
	p, err = cd.Plan(ctx, r.Opts)
	require.NoError(t, err)
	w.noMutation("plan prod")
	assert.Empty(t, p.Blocks)
	assert.Equal(t, "promote", p.Model.Action)
	require.NotNil(t, p.Source)
	assert.Equal(t, cd.EnvStaging, p.Source.Env)
	assert.Equal(t, "2", p.Source.Version)
	require.NotNil(t, p.EndpointBefore)
	assert.Equal(t, []release.Route{{ServedModelName: w.served(cd.EnvProd, "1"), Percent: 100}}, p.EndpointBefore.Traffic)
	assert.Equal(t, w.served(cd.EnvProd, "new"), p.EndpointAfter.Traffic[0].ServedModelName)
	assert.Contains(t, p.Notes[0], "prod rolls out as a canary after a backup of the endpoint")
	raw, err := os.ReadFile(filepath.Join(w.repo.Dir, "artifacts", "plan", "prod.json"))
	require.NoError(t, err)
	var fromFile cd.PlanReport
	require.NoError(t, json.Unmarshal(raw, &fromFile))
	assert.Equal(t, p.Release, fromFile.Release)
}

func TestStatus(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.repo.Tag("v1.0.0")
	ctx := context.Background()

	r := w.run(cd.EnvProd)
	st, err := cd.Status(ctx, r.Opts)
	require.NoError(t, err)
	assert.Nil(t, st.Endpoint)
	assert.Nil(t, st.Latest)
	assert.Contains(t, r.Output(), "endpoint: does not exist")

	w.release(cd.EnvDev, cd.EnvStaging, cd.EnvProd)
	w.repo.Commit("next")
	w.repo.Tag("v1.1.0")
	w.release(cd.EnvDev, cd.EnvStaging)
	_, err = w.deploy(cd.EnvProd) // rolled out (stable), not verified yet

	require.NoError(t, err)
	w.srv.ResetRequests()
	r = w.run(cd.EnvProd)
	st, err = cd.Status(ctx, r.Opts)
	require.NoError(t, err)
	w.noMutation("status")
	require.NotNil(t, st.Endpoint)
	assert.Equal(t, "READY", st.Endpoint.Ready)
	assert.Equal(t, []release.Route{{ServedModelName: w.served(cd.EnvProd, "2"), Percent: 100}}, st.Endpoint.Traffic)
	require.NotNil(t, st.Latest)
	assert.Equal(t, "v1.1.0", st.Latest.Release)
	assert.Equal(t, release.OutcomeStable, st.Latest.Outcome, "the canary passed and the smoke tests too")
	require.NotNil(t, st.LastGood)
	assert.Equal(t, "v1.1.0", st.LastGood.Release, "a stable release is a good one")
	assert.Nil(t, st.Lock)
	out := r.Output()
	assert.Contains(t, out, "serving: langgraph_human_interrupt_model_prod v2 100%")
	assert.Contains(t, out, "latest:    v1.1.0 stable")
	assert.NotContains(t, out, "last good:", "the latest is the last good one")
	assert.Contains(t, out, "lock:     free")
	_, err = os.Stat(filepath.Join(w.repo.Dir, "artifacts", "status", "prod.json"))
	assert.NoError(t, err)
}

// TestPrereleaseStopsAtStaging: an rc goes through dev and staging.
func TestPrereleaseStopsAtStaging(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.repo.Tag("v2.0.0-rc.1")
	w.release(cd.EnvDev, cd.EnvStaging)
	assert.Equal(t, "v2.0.0-rc.1", w.latest(cd.EnvStaging).Release)
	w.srv.ResetRequests()
	_, err := w.deploy(cd.EnvProd)
	require.ErrorIs(t, err, release.ErrPrerelease)
	w.noRequests("prod refuses an rc before talking to the workspace")
}

// TestDevOverrideRelease: an explicit release for dev without a tag.
func TestDevOverrideRelease(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r, err := w.deploy(cd.EnvDev, func(o *cd.Options) { o.Release = "v0.1.0-dev.1" })
	require.NoError(t, err, r.Output())
	assert.Contains(t, r.Output(), "explicit release argument")
	vs := w.versions(cd.EnvDev)
	require.Len(t, vs, 1)
	assert.Equal(t, "v0.1.0-dev.1", tags(vs[0])["release"])
}
