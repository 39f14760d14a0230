package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace/forcesend"
)

// savedPlanWorld is v1.0.0 live in prod and v1.1.0 verified in staging on
// three workspaces sharing one metastore, with the plan of deploy:prod
// saved to a file.
func savedPlanWorld(t *testing.T) (*world, string) {
	t.Helper()
	w := newUCWorlds(t)
	w.ship("v1.0.0", allEnvs...)
	w.ship("v1.1.0", cd.EnvDev, cd.EnvStaging)
	w.validated(cd.EnvProd)
	path := filepath.Join(t.TempDir(), "prod.plan.json")
	r := w.run(cd.EnvProd, func(o *cd.Options) { o.PlanOut = path })
	_, err := cd.Plan(w.ctx, r.Opts)
	require.NoError(t, err, r.Output())
	assert.Contains(t, r.Output(), "Saved plan "+path)
	return w, path
}

// TestSavedPlanDeploysWhatWasReviewed: deploy:prod -plan=FILE applies a
// saved plan when nothing it was made from has changed.
func TestSavedPlanDeploysWhatWasReviewed(t *testing.T) {
	t.Parallel()
	w, path := savedPlanWorld(t)
	sp, err := cd.LoadSavedPlan(path)
	require.NoError(t, err)
	r := w.prodRun(func(o *cd.Options) { o.PlanFile = path })
	require.NoError(t, r.deploy(w.ctx), r.Output())
	assert.Contains(t, r.Output(), "saved plan prod.plan.json ("+sp.Hash[:12])
	assert.Contains(t, r.Output(), "the live state is as it was; applying it")
	assert.Equal(t, "v1.1.0", w.latest(cd.EnvProd).Release)
}

// TestSavedPlanRefusesDrift: each kind of change between the plan and the
// deploy is refused before anything changes, with a diff naming it.
func TestSavedPlanRefusesDrift(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		drift func(t *testing.T, w *world, path string) []func(*cd.Options)
		want  string
	}{
		{"endpoint updated by hand", func(t *testing.T, w *world, _ string) []func(*cd.Options) {
			ep, ok := w.endpoint(cd.EnvProd)
			require.True(t, ok)
			e := ep.Config.ServedEntities[0]
			_, err := w.client(cd.EnvProd).ServingEndpoints.UpdateConfig(w.ctx, serving.EndpointCoreConfigInput{Name: ep.Name,
				ServedEntities: []serving.ServedEntityInput{forcesend.ServedEntity(serving.ServedEntityInput{
					Name: e.Name, EntityName: e.EntityName, EntityVersion: e.EntityVersion, WorkloadSize: "Large", ScaleToZeroEnabled: false})}})
			require.NoError(t, err)
			return nil
		}, "the endpoint changed since the plan: observed.endpoint.served_entities[0].workload_size"},
		{"alias moved", func(t *testing.T, w *world, _ string) []func(*cd.Options) {
			_, err := w.client(cd.EnvProd).RegisteredModels.SetAlias(w.ctx, catalog.SetRegisteredModelAliasRequest{FullName: w.prodModel(), Alias: "hand_set", VersionNum: 1})
			require.NoError(t, err)
			return nil
		}, "the model's aliases moved since the plan: observed.aliases.hand_set: (none) -> \"1\""},
		{"a newer journal entry", func(t *testing.T, w *world, _ string) []func(*cd.Options) {
			// Another operator's deploy that failed meanwhile.
			j := w.journal(cd.EnvProd)
			rec := &release.Record{Env: cd.EnvProd, Kind: release.KindDeploy, Release: "v1.0.1", Started: time.Now().UTC()}
			require.NoError(t, j.Begin(w.ctx, rec))
			require.NoError(t, j.Finish(w.ctx, rec, release.OutcomeFailed, errors.New("refused")))
			return nil
		}, "a newer release record since the plan: observed.journal"},
		{"bundle edited", func(t *testing.T, w *world, _ string) []func(*cd.Options) {
			file := filepath.Join(w.repo.Dir, "databricks.yml")
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			edited := strings.Replace(string(raw), "receives, 1..99.\n    default: 10", "receives, 1..99.\n    default: 20", 1)
			require.NotEqual(t, string(raw), edited)
			require.NoError(t, os.WriteFile(file, []byte(edited), 0o600))
			return nil
		}, "the bundle's configuration changed since the plan: observed.bundle"},
		{"a variable overridden", func(t *testing.T, w *world, _ string) []func(*cd.Options) {
			return []func(*cd.Options){withVars("canary_traffic_percent", "20")}
		}, "the bundle's configuration changed since the plan: observed.bundle"},
		{"another release", func(t *testing.T, w *world, _ string) []func(*cd.Options) {
			w.ship("v1.2.0", cd.EnvDev, cd.EnvStaging)
			w.validated(cd.EnvProd)
			return nil
		}, "another release: plan.release: \"v1.1.0\" -> \"v1.2.0\""},
		{"the file edited", func(t *testing.T, w *world, path string) []func(*cd.Options) {
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(raw), `"promote"`, `"reuse"`, 1)), 0o600))
			return nil
		}, "its hash does not match its content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, path := savedPlanWorld(t)
			mods := tt.drift(t, w, path)
			before := len(w.server(cd.EnvProd).MutatingRequests())
			r := w.prodRun(append(mods, func(o *cd.Options) { o.PlanFile = path })...)
			err := r.deploy(w.ctx)
			require.Error(t, err, r.Output())
			assert.Contains(t, err.Error(), tt.want)
			assert.Len(t, w.server(cd.EnvProd).MutatingRequests(), before, "refused before any write")
			for _, rec := range w.records(cd.EnvProd) {
				assert.NotEqual(t, "v1.1.0", rec.Release, "no record of the refused deploy")
			}
		})
	}
}
