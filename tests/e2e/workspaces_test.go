package e2e

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/cd/cdtest"
)

// dev, staging and prod in three workspaces, each with its own
// credentials (DATABRICKS_HOST_<ENV>, DATABRICKS_TOKEN_<ENV>). dev deploys
// and verifies in its workspace. Promoting to staging through the workspace
// model registry cannot work there (the version points at a run only dev's
// workspace holds), so deploy:staging and plan:staging refuse before
// anything changes, saying why and what to use instead (plan shows it as
// a block).
func TestThreeWorkspaces(t *testing.T) {
	t.Parallel()
	ws := cdtest.Workspaces(t)
	repo := cdtest.NewRepoIn(t, ws)
	repo.Tag("v1.0.0")
	ctx := context.Background()

	dev := cdtest.NewRunIn(t, repo, ws, cd.EnvDev)
	require.NoError(t, cd.Deploy(ctx, dev.Opts), dev.Output())
	verify := cdtest.NewRunIn(t, repo, ws, cd.EnvDev)
	require.NoError(t, cd.RunVerify(ctx, verify.Opts), verify.Output())
	endpoints := func(env string) []string {
		w, err := ws.Get(env).WorkspaceClient()
		require.NoError(t, err)
		eps, err := w.ServingEndpoints.ListAll(ctx)
		require.NoError(t, err)
		var names []string
		for _, e := range eps {
			names = append(names, e.Name)
		}
		return names
	}
	assert.Len(t, endpoints(cd.EnvDev), 1, "dev's endpoint is in dev's workspace")
	for _, env := range []string{cd.EnvStaging, cd.EnvProd} {
		assert.Empty(t, endpoints(env), "%s's workspace holds nothing of dev's", env)
		assert.Empty(t, ws.Get(env).MutatingRequests(), "dev's release changed nothing in %s's workspace", env)
	}

	for _, env := range ws.Names() {
		ws.Get(env).ResetRequests()
	}
	staging := cdtest.NewRunIn(t, repo, ws, cd.EnvStaging)
	err := cd.Deploy(ctx, staging.Opts)
	require.Error(t, err)
	var cross *cd.CrossWorkspaceError
	require.ErrorAs(t, err, &cross, staging.Output())
	assert.Equal(t, cd.EnvDev, cross.From)
	assert.NotEqual(t, cross.WorkspaceID, cross.FromID)
	msg := err.Error()
	for _, want := range []string{"workspace model registry", "cannot be copied across", "Nothing was changed", "Unity Catalog", ws.Get(cd.EnvDev).URL(), ws.Get(cd.EnvStaging).URL()} {
		assert.Contains(t, msg, want)
	}
	for _, env := range ws.Names() {
		assert.Empty(t, ws.Get(env).MutatingRequests(), "the refusal changed nothing in %s's workspace", env)
	}

	plan := cdtest.NewRunIn(t, repo, ws, cd.EnvStaging)
	p, err := cd.Plan(ctx, plan.Opts)
	require.NoError(t, err, plan.Output())
	require.NotEmpty(t, p.Blocks)
	assert.Contains(t, p.Blocks[len(p.Blocks)-1], "Unity Catalog", "plan shows the same refusal")
}
