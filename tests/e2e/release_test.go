package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// TestRelease ships two tagged releases dev -> verify -> staging -> verify
// -> prod -> verify and checks what the workspace holds afterwards.
func TestRelease(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	envs := []string{cd.EnvDev, cd.EnvStaging, cd.EnvProd}

	w.repo.Tag("v1.0.0")
	sha1 := w.repo.Head()
	w.release(envs...)

	w.repo.Commit("second release")
	w.repo.Tag("v1.1.0")
	sha2 := w.repo.Head()
	w.release(envs...)

	// One training run per release, in dev only.
	runs := w.srv.JobRuns(w.config(cd.EnvDev).TrainingJob)
	require.Len(t, runs, 2)
	for _, env := range []string{cd.EnvStaging, cd.EnvProd} {
		assert.Empty(t, w.srv.JobRuns(w.config(env).TrainingJob), "%s never trains", env)
	}

	for i, want := range []struct{ tag, sha string }{{"v1.0.0", sha1}, {"v1.1.0", sha2}} {
		version := strconv.Itoa(i + 1)
		dev := w.versions(cd.EnvDev)
		require.Len(t, dev, 2, "one dev version per release")
		assert.Equal(t, map[string]string{
			"release": want.tag, "git_sha": want.sha, "target": "dev",
			"job_run_id": strconv.FormatInt(runs[i].RunId, 10),
		}, tags(dev[i]))
		assert.Equal(t, version, dev[i].Version)

		// Each promotion copies the exact version verified upstream.
		for _, pair := range [][2]string{{cd.EnvDev, cd.EnvStaging}, {cd.EnvStaging, cd.EnvProd}} {
			from, to := pair[0], pair[1]
			vs := w.versions(to)
			require.Len(t, vs, 2, "one %s version per release: no duplicates", to)
			src := w.versions(from)[i]
			got := tags(vs[i])
			assert.Equal(t, from, got["source_env"])
			assert.Equal(t, w.config(from).Model, got["source_model"])
			assert.Equal(t, src.Version, got["source_version"])
			assert.Equal(t, want.tag, got["release"])
			assert.Equal(t, want.sha, got["git_sha"])
			assert.Equal(t, tags(w.versions(cd.EnvDev)[i])["job_run_id"], got["job_run_id"], "the training run follows the model")
			assert.Equal(t, src.Source, vs[i].Source, "same artifact")
			assert.Equal(t, src.RunId, vs[i].RunId, "same MLflow run")
			recs := w.records(from)
			assert.Equal(t, recs[i].ID, got["source_record"], "lineage names the verified record")
		}
	}

	for _, env := range envs {
		ep, ok := w.endpoint(env)
		require.True(t, ok, env)
		assert.Equal(t, serving.EndpointStateReadyReady, ep.State.Ready)
		assert.Equal(t, serving.EndpointStateConfigUpdateNotUpdating, ep.State.ConfigUpdate)
		assert.Equal(t, map[string]int{w.served(env, "2"): 100}, w.traffic(env), "%s serves the second release only", env)
		require.Len(t, ep.Config.ServedEntities, 1)
		ent := ep.Config.ServedEntities[0]
		assert.Equal(t, w.config(env).Model, ent.EntityName)
		assert.Equal(t, "2", ent.EntityVersion)
		wantSize := "Small"
		if env == cd.EnvProd {
			wantSize = "Medium"
		}
		assert.Equal(t, wantSize, ent.WorkloadSize, "compute settings come from the bundle")
		assert.Equal(t, env != cd.EnvProd, ent.ScaleToZeroEnabled)
		epTags := map[string]string{}
		for _, tg := range ep.Tags {
			epTags[tg.Key] = tg.Value
		}
		assert.Equal(t, "human-interrupt-agent", epTags["project"])
		assert.Equal(t, env, epTags["target"])

		recs := w.records(env)
		require.Len(t, recs, 2, "%s: one record per release", env)
		for i, rec := range recs {
			tag := []string{"v1.0.0", "v1.1.0"}[i]
			assert.Equal(t, tag, rec.Release)
			assert.Equal(t, release.KindDeploy, rec.Kind)
			assert.Equal(t, release.OutcomeVerified, rec.Outcome, "%s %s", env, tag)
			require.NotNil(t, rec.Verify)
			assert.True(t, rec.Verify.Passed)
			require.NotNil(t, rec.Model)
			assert.Equal(t, strconv.Itoa(i+1), rec.Model.Version)
			assert.Equal(t, w.srv.UserName(), rec.Actor)
			require.NotNil(t, rec.Finished)
			require.NotNil(t, rec.Endpoint)
			assert.Equal(t, []release.Route{{ServedModelName: w.served(env, strconv.Itoa(i+1)), Percent: 100}}, rec.Endpoint.Traffic)
			if i == 1 {
				require.NotNil(t, rec.Previous, "the second release records what it replaced")
				assert.Equal(t, []release.Route{{ServedModelName: w.served(env, "1"), Percent: 100}}, rec.Previous.Traffic)
			}
			if env == cd.EnvDev {
				assert.Empty(t, rec.Approval)
				assert.Nil(t, rec.Model.Source)
			} else {
				assert.Contains(t, rec.Approval, "-yes")
				require.NotNil(t, rec.Model.Source)
				assert.Equal(t, cd.RouteCopy, rec.Model.Source.Route, "one workspace: the record keeps the copy route")
				assert.Equal(t, release.StageSkipped, rec.Stage("train").Status, "one workspace: %s trains nothing", env)
			}
			for _, st := range []string{"config", "release", "connect", "lock", "record", "bundle", "serve"} {
				require.NotNil(t, rec.Stage(st), "%s record lists stage %s", env, st)
				assert.Equal(t, release.StageOK, rec.Stage(st).Status)
			}
			// The local copy under artifacts/.
			_, err := os.Stat(filepath.Join(w.repo.Dir, "artifacts", "releases", env, rec.ID+".json"))
			assert.NoError(t, err)
		}
		for _, f := range []string{"junit.xml", "summary.json"} {
			_, err := os.Stat(filepath.Join(w.repo.Dir, "artifacts", "verify", env, f))
			assert.NoError(t, err, "%s %s", env, f)
		}
	}
	// Staging ran the load test, the others did not.
	assert.Equal(t, "load", w.latest(cd.EnvStaging).Verify.Suites[1].Name)
	for _, s := range w.latest(cd.EnvDev).Verify.Suites {
		assert.NotEqual(t, "load", s.Name)
	}
	// Deploys leave no lock behind.
	for _, env := range envs {
		_, ok := w.srv.WorkspaceFile(w.config(env).LockFile)
		assert.False(t, ok, "%s lock released", env)
	}
}

// TestRedeployIsIdempotent re-runs every deploy of a release: nothing is
// trained, copied or switched a second time.
func TestRedeployIsIdempotent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.repo.Tag("v1.0.0")
	w.release(cd.EnvDev, cd.EnvStaging, cd.EnvProd)

	for _, env := range []string{cd.EnvStaging, cd.EnvProd} {
		w.srv.ResetRequests()
		r, err := w.deploy(env)
		require.NoError(t, err, r.Output())
		assert.Zero(t, w.opsCount("registry.model-versions.create"), "%s: the copy is found", env)
		assert.Zero(t, w.opsCount("serving-endpoints.update-config"), "%s: already serving", env)
		assert.Zero(t, w.opsCount("jobs.create"), "%s: job reused", env)
		assert.Contains(t, r.Output(), "already copied")
		assert.Contains(t, r.Output(), "already serves")
		assert.Len(t, w.versions(env), 1)
	}
}
