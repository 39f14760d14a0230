package e2e

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/notify"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
)

// TestThreeWorkspaces is the release flow with dev, staging and prod in
// three workspaces, each deploy holding every environment's credentials
// (DATABRICKS_HOST_<ENV>, DATABRICKS_TOKEN_<ENV>): a first release
// through all three, a bad canary aborted in prod, a good one promoted,
// and a rollback. A workspace-registry version cannot cross workspaces, so
// staging and prod train each release from the same commit in their own
// workspace after the environment before verified it: the "deploy code"
// pattern of Databricks' "Model deployment patterns" (MLOps guidance:
// "the same code moves to staging and then production. The model is
// trained in each environment").
func TestThreeWorkspaces(t *testing.T) {
	t.Parallel()
	w := newWorlds(t)
	w.repo.Tag("v1.0.0")
	sha := w.repo.Head()

	// plan staging, before staging has anything: the train route, and why.
	w.release(cd.EnvDev)
	pr := w.run(cd.EnvStaging)
	p, err := cd.Plan(w.ctx, pr.Opts)
	require.NoError(t, err, pr.Output())
	assert.Empty(t, p.Blocks)
	assert.Equal(t, "train", p.Model.Action)
	assert.Contains(t, p.Model.Detail, "staging is another workspace: workspace-registry versions cannot cross workspaces; training release v1.0.0 in staging from the same commit")
	require.NotNil(t, p.Source)
	assert.Equal(t, cd.RouteTrain, p.Source.Route)
	assert.Contains(t, pr.Output(), "model:    train")

	slack := &hook{}
	slackSrv := httptest.NewServer(slack)
	t.Cleanup(slackSrv.Close)
	for _, env := range []string{cd.EnvStaging, cd.EnvProd} {
		r, err := w.deploy(env, withEnv(notify.EnvSlackWebhookURL, slackSrv.URL+"/services/T000/B000/x"))
		require.NoError(t, err, r.Output())
		assert.Contains(t, r.Output(), env+" is another workspace: workspace-registry versions cannot cross workspaces; training release v1.0.0 in "+env+" from the same commit")
		r, err = w.verify(env)
		require.NoError(t, err, r.Output())
	}
	for _, env := range allEnvs {
		srv := w.server(env)
		assert.Len(t, srv.JobRuns(w.config(env).TrainingJob), 1, "%s trained v1.0.0 once, in its own workspace", env)
		eps := w.endpoints(env)
		assert.Equal(t, []string{w.config(env).Endpoint.Name}, eps, "%s's workspace holds its own endpoint only", env)
		vs := w.versions(env)
		require.Len(t, vs, 1, env)
		tg := tags(vs[0])
		assert.Equal(t, "v1.0.0", tg["release"])
		assert.Equal(t, sha, tg["git_sha"], "%s trained the commit dev verified", env)
		rec := w.latest(env)
		assert.Equal(t, release.OutcomeVerified, rec.Outcome, env)
		require.NotNil(t, rec.Model)
		if env == cd.EnvDev {
			assert.Nil(t, rec.Model.Source)
			assert.Empty(t, tg["source_env"])
			continue
		}
		from := map[string]string{cd.EnvStaging: cd.EnvDev, cd.EnvProd: cd.EnvStaging}[env]
		require.NotNil(t, rec.Model.Source, env)
		assert.Equal(t, cd.RouteTrain, rec.Model.Source.Route, "%s's record keeps the route", env)
		assert.Equal(t, from, rec.Model.Source.Env)
		assert.Equal(t, w.latest(from).ID, rec.Model.Source.Record, "lineage names the verified record")
		assert.Equal(t, strconv.FormatInt(w.server(env).JobRuns(w.config(env).TrainingJob)[0].RunId, 10), tg["job_run_id"])
		assert.Equal(t, map[string]string{"source_env": from, "source_record": rec.Model.Source.Record, "promotion_route": "train"},
			map[string]string{"source_env": tg["source_env"], "source_record": tg["source_record"], "promotion_route": tg["promotion_route"]})
		assert.Empty(t, tg["source_version"], "not a copy")
		assert.Equal(t, release.StageSkipped, rec.Stage("promote").Status, "nothing copied")
		assert.Equal(t, release.StageOK, rec.Stage("train").Status)
	}

	heard, err := json.Marshal(slack.received())
	require.NoError(t, err)
	assert.Contains(t, string(heard), "the release is trained in staging's own workspace, from the commit dev verified", "the announcement says which route")

	// plan staging again: the version trained before is reused.
	pr = w.run(cd.EnvStaging)
	p, err = cd.Plan(w.ctx, pr.Opts)
	require.NoError(t, err, pr.Output())
	assert.Equal(t, "reuse", p.Model.Action)
	assert.Equal(t, "1", p.Model.Version)

	// Re-running deploy:staging trains nothing again: it serves the version
	// it trained before.
	r, err := w.deploy(cd.EnvStaging)
	require.NoError(t, err, r.Output())
	assert.Len(t, w.server(cd.EnvStaging).JobRuns(w.config(cd.EnvStaging).TrainingJob), 1)
	assert.Contains(t, r.Output(), "was trained in staging for v1.0.0")
	_, err = w.verify(cd.EnvStaging)
	require.NoError(t, err)

	// A bad canary: v1.1.0 in prod answers 20% 5xx (a platform fault) and
	// is aborted, stable back at 100%.
	w.ship("v1.1.0", cd.EnvDev, cd.EnvStaging)
	w.badVersion("2", emulator.Behavior{ErrorRate: 0.2})
	stable, bad := w.served(cd.EnvProd, "1"), w.served(cd.EnvProd, "2")
	pd := w.prodRun()
	err = pd.deploy(w.ctx)
	var ae *rollout.AbortError
	require.ErrorAs(t, err, &ae, pd.Output())
	assert.True(t, ae.Restored)
	assert.Equal(t, map[string]int{stable: 100}, w.traffic(cd.EnvProd))
	w.assertStableRouted(pd.updates(), stable, bad)
	assert.Equal(t, release.OutcomeAborted, w.latest(cd.EnvProd).Outcome)

	// A good canary: v1.2.0 is promoted to all traffic.
	w.ship("v1.2.0", cd.EnvDev, cd.EnvStaging)
	pd = w.prodRun()
	require.NoError(t, pd.deploy(w.ctx), pd.Output())
	assert.Equal(t, map[string]int{w.served(cd.EnvProd, "3"): 100}, w.traffic(cd.EnvProd))
	assert.Len(t, pd.updates(), 2, "the canary, then the promotion")
	r, err = w.verify(cd.EnvProd)
	require.NoError(t, err, r.Output())
	assert.Len(t, w.server(cd.EnvProd).JobRuns(w.config(cd.EnvProd).TrainingJob), 3, "prod trained v1.0.0, v1.1.0 and v1.2.0")

	// Rollback in prod's workspace, with prod's credentials only.
	// prod serves its last stable release, so a plain rollback is a no-op
	// that says so; going back to v1.0.0 is named.
	r, err = w.rollback(cd.RollbackTarget{})
	require.NoError(t, err, r.Output())
	assert.Contains(t, r.Output(), "nothing to roll back")
	assert.Equal(t, map[string]int{w.served(cd.EnvProd, "3"): 100}, w.traffic(cd.EnvProd))
	r, err = w.rollback(cd.RollbackTarget{Release: "v1.0.0"})
	require.NoError(t, err, r.Output())
	assert.Equal(t, map[string]int{stable: 100}, w.traffic(cd.EnvProd), "v1.0.0 (prod model v1) back")
	assert.Contains(t, r.Output(), "target: v1.0.0 (model v1)")
}

// TestThreeWorkspacesSecondTrainingJobRefused: staging, in a workspace of
// its own, would need exactly one training job to train the release there.
// A second one can come from a resource only the staging target defines,
// which the CLI (and bundle validation here) accepts: deploy:staging's
// train route refuses it before anything changes in any of the three
// workspaces, and plan shows the same refusal as a block.
func TestThreeWorkspacesSecondTrainingJobRefused(t *testing.T) {
	t.Parallel()
	w := newWorlds(t)
	yml := filepath.Join(w.repo.Dir, "databricks.yml")
	raw, err := os.ReadFile(yml)
	require.NoError(t, err)
	second := `  staging:
    resources:
      jobs:
        train_nightly:
          name: nightly-train-${bundle.target}
          tasks:
            - task_key: train
              spark_python_task:
                python_file: src/train_job.py
`
	require.Contains(t, string(raw), "\n  staging:\n")
	require.NoError(t, os.WriteFile(yml, []byte(strings.Replace(string(raw), "  staging:\n", second, 1)), 0o644))
	w.repo.Commit("staging: a second training job")
	w.repo.Tag("v1.0.0")
	w.release(cd.EnvDev)
	for _, env := range allEnvs {
		w.server(env).ResetRequests()
	}

	r, err := w.deploy(cd.EnvStaging)
	require.Error(t, err, r.Output())
	for _, want := range []string{"declares 2 training jobs", "Nothing was changed"} {
		assert.Contains(t, err.Error(), want)
	}
	for _, env := range allEnvs {
		assert.Empty(t, w.server(env).MutatingRequests(), "the refusal changed nothing in %s's workspace", env)
	}

	pr := w.run(cd.EnvStaging)
	p, err := cd.Plan(w.ctx, pr.Opts)
	require.NoError(t, err, pr.Output())
	require.NotEmpty(t, p.Blocks)
	assert.Contains(t, strings.Join(p.Blocks, "\n"), "declares 2 training jobs")
}

// endpoints lists the serving endpoints of env's workspace.
func (w *world) endpoints(env string) []string {
	w.t.Helper()
	eps, err := w.client(env).ServingEndpoints.ListAll(w.ctx)
	require.NoError(w.t, err)
	var names []string
	for _, e := range eps {
		names = append(names, e.Name)
	}
	return names
}
