package e2e

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/cd/cdtest"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// newUCWorlds is the project's own bundle (Unity Catalog models) on three
// workspaces sharing one metastore, each with the legacy workspace
// registry disabled, as on workspaces of new accounts: a catalog per
// environment, each environment granted read on the previous one's.
func newUCWorlds(t *testing.T, opts ...func(*emulator.Options)) *world {
	t.Helper()
	ws := cdtest.Workspaces(t, opts...)
	return &world{t: t, ctx: context.Background(), ws: ws, repo: cdtest.NewRepoIn(t, ws),
		cfgs: map[string]*cd.EnvConfig{}, wcs: map[string]*databricks.WorkspaceClient{}}
}

// ucVersions lists the environment's Unity Catalog model versions, oldest first.
func (w *world) ucVersions(env string) []catalog.ModelVersionInfo {
	w.t.Helper()
	all, err := w.client(env).ModelVersions.ListAll(w.ctx, catalog.ListModelVersionsRequest{FullName: w.config(env).Model})
	require.NoError(w.t, err)
	sort.Slice(all, func(i, j int) bool { return all[i].Version < all[j].Version })
	return all
}

// aliases is the environment's model's aliases as version numbers.
func (w *world) aliases(env string) map[string]string {
	w.t.Helper()
	out := map[string]string{}
	for a, v := range w.ws.Metastore().Aliases(w.config(env).Model) {
		out[a] = strconv.Itoa(v)
	}
	return out
}

// legacyCalls counts requests any workspace answered from the workspace
// model registry's routes.
func (w *world) legacyCalls() int {
	n := 0
	for _, env := range allEnvs {
		for _, r := range w.server(env).Requests() {
			if strings.Contains(r.Path, "/registered-models/") || strings.Contains(r.Path, "/model-versions/") && !strings.Contains(r.Path, "unity-catalog") {
				n++
			}
		}
	}
	return n
}

// TestUnityCatalogRelease is the release story on Unity Catalog across
// three workspaces with the legacy registry disabled: dev trains and
// registers, staging and prod copy through the shared metastore with their
// promote jobs, prod runs a canary that is promoted, then a bad one that
// is aborted, then a rollback. @champion always names what serves 100%,
// @challenger the canary while it runs and nothing afterwards; re-runs
// make no second copy.
func TestUnityCatalogRelease(t *testing.T) {
	t.Parallel()
	w := newUCWorlds(t)
	w.ship("v1.0.0", allEnvs...)

	for _, env := range allEnvs {
		cfg := w.config(env)
		assert.Equal(t, cd.RegistryUnityCatalog, cfg.Registry)
		if env == cd.EnvDev {
			// Development mode prefixes the name with the deploying user.
			assert.Regexp(t, `^dev\.human_interrupt_agent\.dev_\w+_interrupt_agent$`, cfg.Model)
		} else {
			assert.Equal(t, env+".human_interrupt_agent.interrupt_agent", cfg.Model)
		}
		vs := w.ucVersions(env)
		require.Len(t, vs, 1, env)
		assert.Equal(t, catalog.ModelVersionInfoStatusReady, vs[0].Status)
		assert.Equal(t, map[string]string{"champion": "1", "release_v1_0_0": "1"}, w.aliases(env), env)
		ep, ok := w.endpoint(env)
		require.True(t, ok)
		assert.Equal(t, cfg.Model, ep.Config.ServedEntities[0].EntityName, "served entities name the three-level model")
		rec := w.latest(env)
		require.NotNil(t, rec.Model)
		assert.Equal(t, cd.RegistryUnityCatalog, rec.Model.Registry)
		assert.Equal(t, "release_v1_0_0", rec.Model.Alias)
		if env == cd.EnvDev {
			assert.Len(t, w.server(env).JobRuns(cfg.TrainingJob), 1)
			continue
		}
		from := map[string]string{cd.EnvStaging: cd.EnvDev, cd.EnvProd: cd.EnvStaging}[env]
		assert.Equal(t, "models:/"+w.config(from).Model+"/1", vs[0].Source, "%s's version is a copy of %s's", env, from)
		assert.Equal(t, w.ucVersions(cd.EnvDev)[0].RunId, vs[0].RunId, "the copy keeps the training run")
		require.NotNil(t, rec.Model.Source)
		assert.Equal(t, cd.RouteUCCopy, rec.Model.Source.Route)
		assert.Equal(t, from, rec.Model.Source.Env)
		assert.Empty(t, w.server(env).JobRuns(cfg.TrainingJob), "%s does not train", env)
		assert.Len(t, w.server(env).JobRuns(cfg.PromoteJob), 1, "%s copied once", env)
	}
	assert.Zero(t, w.legacyCalls(), "nothing reached the disabled legacy registry")

	// A re-run of staging finds the copy by its alias: no second copy, no job run.
	r, err := w.deploy(cd.EnvStaging)
	require.NoError(t, err, r.Output())
	assert.Len(t, w.ucVersions(cd.EnvStaging), 1)
	assert.Len(t, w.server(cd.EnvStaging).JobRuns(w.config(cd.EnvStaging).PromoteJob), 1)
	assert.Contains(t, r.Output(), "already copied")

	// v1.1.0: a canary, promoted. During the canary @challenger names the
	// candidate; afterwards nothing does and @champion moved.
	w.ship("v1.1.0", cd.EnvDev, cd.EnvStaging)
	var mu sync.Mutex
	duringCanary := map[string]string{}
	w.validated(cd.EnvProd)
	pr := w.run(cd.EnvProd, func(o *cd.Options) {
		o.Observe = func(e cd.Event) {
			if e.Kind == "stage-end" && e.Stage == "canary" {
				mu.Lock()
				defer mu.Unlock()
				for a, v := range w.ws.Metastore().Aliases(w.config(cd.EnvProd).Model) {
					duringCanary[a] = strconv.Itoa(v)
				}
			}
		}
	})
	require.NoError(t, cd.Deploy(w.ctx, pr.Opts), pr.Output())
	mu.Lock()
	assert.Equal(t, "1", duringCanary["champion"], "the stable keeps @champion during the canary")
	assert.Equal(t, "2", duringCanary["challenger"], "the candidate is @challenger while it runs")
	mu.Unlock()
	assert.Equal(t, map[string]string{"champion": "2", "release_v1_0_0": "1", "release_v1_1_0": "2"}, w.aliases(cd.EnvProd))
	assert.Equal(t, map[string]int{w.served(cd.EnvProd, "2"): 100}, w.traffic(cd.EnvProd))
	assert.Contains(t, pr.Output(), "@challenger -> v2")
	r, err = w.verify(cd.EnvProd)
	require.NoError(t, err, r.Output())

	// status shows the aliases.
	sr := w.run(cd.EnvProd)
	st, err := cd.Status(w.ctx, sr.Opts)
	require.NoError(t, err, sr.Output())
	assert.Equal(t, "2", st.Aliases["champion"])
	assert.Contains(t, sr.Output(), "@champion v2, @release_v1_1_0 v2, @release_v1_0_0 v1")

	// v1.2.0: its model raises on 20% of requests (4xx): the canary aborts,
	// stable keeps @champion, @challenger is gone.
	w.ship("v1.2.0", cd.EnvDev, cd.EnvStaging)
	w.badVersion("3", emulator.Behavior{ErrorRate: 0.2})
	w.validated(cd.EnvProd) // staging's v3 answers like v2: only prod's copy raises
	pl := w.run(cd.EnvProd)
	plan, err := cd.Plan(w.ctx, pl.Opts)
	require.NoError(t, err, pl.Output())
	var moves []string
	for _, m := range plan.Aliases {
		moves = append(moves, m.String())
	}
	assert.Equal(t, []string{"@challenger -> vnew", "@champion v2 -> vnew", "@challenger removed (was vnew)"}, moves)
	assert.Contains(t, pl.Output(), "aliases:  @challenger -> vnew")
	bad := w.run(cd.EnvProd)
	err = cd.Deploy(w.ctx, bad.Opts)
	require.Error(t, err, bad.Output())
	assert.Equal(t, release.OutcomeAborted, w.latest(cd.EnvProd).Outcome)
	assert.Equal(t, map[string]int{w.served(cd.EnvProd, "2"): 100}, w.traffic(cd.EnvProd))
	assert.Equal(t, map[string]string{"champion": "2", "release_v1_0_0": "1", "release_v1_1_0": "2", "release_v1_2_0": "3"}, w.aliases(cd.EnvProd))

	// rollback prod -to v1.0.0 (the abort already left v1.1.0 serving,
	// the last stable release): @champion follows the endpoint back.
	rb := w.run(cd.EnvProd)
	require.NoError(t, cd.Rollback(w.ctx, rb.Opts, cd.RollbackTarget{Release: "v1.0.0"}), rb.Output())
	assert.Contains(t, rb.Output(), "@champion v2 -> v1")
	assert.Equal(t, map[string]int{w.served(cd.EnvProd, "1"): 100}, w.traffic(cd.EnvProd))
	assert.Equal(t, "1", w.aliases(cd.EnvProd)["champion"])
	assert.NotContains(t, w.aliases(cd.EnvProd), "challenger")
	assert.Len(t, w.ucVersions(cd.EnvProd), 3, "one copy per release")
	assert.Zero(t, w.legacyCalls())
}

// TestUnityCatalogPromotionKilledConverges: deploy:staging killed right
// after each stage around the copy, then run again, ends with one copy.
func TestUnityCatalogPromotionKilledConverges(t *testing.T) {
	t.Parallel()
	for _, stage := range []string{"bundle", "promote", "serve"} {
		t.Run(stage, func(t *testing.T) {
			t.Parallel()
			w := newUCWorlds(t)
			w.ship("v1.0.0", cd.EnvDev)
			killed, err := w.deploy(cd.EnvStaging, withEnv(cd.ExitAfterStageEnv, stage), func(o *cd.Options) { o.Process = cd.Process{PID: deadPID(t)} })
			require.ErrorIs(t, err, cd.ErrExitedAfterStage, killed.Output())
			again, err := w.deploy(cd.EnvStaging)
			require.NoError(t, err, again.Output())
			assert.Len(t, w.ucVersions(cd.EnvStaging), 1, "one copy")
			assert.Len(t, w.server(cd.EnvStaging).JobRuns(w.config(cd.EnvStaging).PromoteJob), 1, "one promotion run")
			assert.Equal(t, map[string]string{"champion": "1", "release_v1_0_0": "1"}, w.aliases(cd.EnvStaging))
		})
	}
}

// TestUnityCatalogCopyWithoutAliasIsFound: a copy whose alias was never
// set (a promote task killed between the copy and the alias) is found by
// its source and named, not copied again.
func TestUnityCatalogCopyWithoutAliasIsFound(t *testing.T) {
	t.Parallel()
	w := newUCWorlds(t)
	w.ship("v1.0.0", cd.EnvDev)
	ms := w.ws.Metastore()
	stg := w.server(cd.EnvStaging)
	// The bundle deploy creates the model; the copy is then made by hand
	// as the task would, without its alias.
	r, err := w.deploy(cd.EnvStaging, withEnv(cd.ExitAfterStageEnv, "bundle"), func(o *cd.Options) { o.Process = cd.Process{PID: deadPID(t)} })
	require.ErrorIs(t, err, cd.ErrExitedAfterStage, r.Output())
	src := w.ucVersions(cd.EnvDev)[0]
	_, err = ms.RegisterVersion(stg.UserName(), w.config(cd.EnvStaging).Model, unitycatalog.NewVersion{
		Source: unitycatalog.CopySource(w.config(cd.EnvDev).Model, strconv.Itoa(src.Version)), RunID: src.RunId,
	})
	require.NoError(t, err)
	again, err := w.deploy(cd.EnvStaging)
	require.NoError(t, err, again.Output())
	assert.Len(t, w.ucVersions(cd.EnvStaging), 1, "the copy was found by its source")
	assert.Empty(t, stg.JobRuns(w.config(cd.EnvStaging).PromoteJob), "no promotion run")
	assert.Equal(t, "1", w.aliases(cd.EnvStaging)["release_v1_0_0"])
}

// TestUnityCatalogRefusals: each refused before anything changes in the
// deploying environment's workspace.
func TestUnityCatalogRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   string
		setup func(w *world) []func(*cd.Options)
		want  []string
		// offline: refused before any request reaches a workspace.
		offline bool
	}{
		{
			name: "missing catalog", env: cd.EnvDev,
			setup: func(w *world) []func(*cd.Options) { return []func(*cd.Options){withVars("catalog", "qa")} },
			want:  []string{"schema qa.human_interrupt_agent is not in the Unity Catalog metastore", "Nothing was changed", "CREATE CATALOG IF NOT EXISTS qa"},
		},
		{
			name: "missing schema", env: cd.EnvDev,
			setup: func(w *world) []func(*cd.Options) { return []func(*cd.Options){withVars("schema", "nope")} },
			want:  []string{"schema dev.nope is not in the Unity Catalog metastore", "CREATE SCHEMA IF NOT EXISTS dev.nope"},
		},
		{
			name: "no grant on the source catalog", env: cd.EnvStaging,
			setup: func(w *world) []func(*cd.Options) {
				w.release(cd.EnvDev)
				stg := w.server(cd.EnvStaging).UserName()
				require.NoError(w.t, w.ws.Metastore().Revoke(catalog.SecurableTypeCatalog, "dev", stg, catalog.PrivilegeUseCatalog))
				return nil
			},
			want: []string{"deploy:staging cannot read dev's dev.human_interrupt_agent.dev_", "USE_CATALOG on dev", "Nothing was changed"},
		},
		{
			name: "alias name with a hyphen", env: cd.EnvDev, offline: true,
			setup: func(w *world) []func(*cd.Options) { return []func(*cd.Options){withVars("champion_alias", "my-alias")} },
			want:  []string{"my-alias"},
		},
		{
			name: "one model in both registries", env: cd.EnvDev, offline: true,
			setup: func(w *world) []func(*cd.Options) {
				p := filepath.Join(w.repo.Dir, "resources", "workspace_model.yml")
				require.NoError(w.t, os.WriteFile(p, []byte("resources:\n  models:\n    human_interrupt_model:\n      name: ${var.model_name}\n"), 0o600))
				w.repo.Git("add", ".")
				w.repo.Git("commit", "--quiet", "-m", "declare the model twice")
				w.repo.Tag("v1.0.1")
				return nil
			},
			want: []string{"human_interrupt_model"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newUCWorlds(t)
			w.repo.Tag("v1.0.0")
			mods := tt.setup(w)
			srv := w.server(tt.env)
			before := len(srv.Requests())
			r, err := w.deploy(tt.env, mods...)
			require.Error(t, err, r.Output())
			for _, want := range tt.want {
				assert.Contains(t, err.Error(), want)
			}
			for _, req := range srv.Requests()[before:] {
				if tt.offline && strings.HasPrefix(req.Path, "/api/") {
					assert.Fail(t, "unexpected request", "%s %s", req.Method, req.Path)
				}
				assert.False(t, req.Mutating, "changed %s: %s %s", tt.env, req.Method, req.Path)
			}
		})
	}
}

// TestUnityCatalogRegistrationFails: a version that finalize ends
// FAILED_REGISTRATION fails deploy:dev with why; nothing is served.
func TestUnityCatalogRegistrationFails(t *testing.T) {
	t.Parallel()
	w := newUCWorlds(t)
	w.repo.Tag("v1.0.0")
	w.ws.Metastore().FailNextRegistration(w.config(cd.EnvDev).Model, "storage credential expired")
	r, err := w.deploy(cd.EnvDev)
	require.Error(t, err, r.Output())
	assert.Contains(t, err.Error(), "FAILED_REGISTRATION")
	assert.Contains(t, err.Error(), "storage credential expired", "the reason, read from MLflow's Unity Catalog route")
	assert.Contains(t, err.Error(), "training run")
	_, served := w.endpoint(cd.EnvDev)
	assert.False(t, served)
	assert.NotContains(t, w.aliases(cd.EnvDev), "release_v1_0_0")
}

// TestUnityCatalogInterruptedRegistrationIsReplaced: MLflow registers a
// version by create, credentials, upload and finalize, and nothing
// finalizes a version whose task died between them (see tests/contract).
// A training or promotion run that dies after each step fails its deploy;
// the next deploy of the same release retries the run, deletes the
// unfinished version it left and ends with exactly one READY version
// carrying the release alias. No deploy waits on the unfinished version.
func TestUnityCatalogInterruptedRegistrationIsReplaced(t *testing.T) {
	t.Parallel()
	for _, env := range []string{cd.EnvDev, cd.EnvStaging} {
		for _, step := range []unitycatalog.Step{unitycatalog.StepCreate, unitycatalog.StepCredentials, unitycatalog.StepUpload} {
			t.Run(env+"/"+string(step), func(t *testing.T) {
				t.Parallel()
				w := newUCWorlds(t)
				if env == cd.EnvStaging {
					w.ship("v1.0.0", cd.EnvDev)
				} else {
					w.repo.Tag("v1.0.0")
				}
				w.ws.Metastore().InterruptNextRegistration(w.config(env).Model, step)
				failed, err := w.deploy(env)
				var rf *cd.RunFailedError
				require.ErrorAs(t, err, &rf, failed.Output())
				assert.Contains(t, err.Error(), "died after the "+string(step)+" step")
				pending := w.ucVersions(env)
				require.Len(t, pending, 1)
				assert.Equal(t, catalog.ModelVersionInfoStatusPendingRegistration, pending[0].Status)

				again, err := w.deploy(env)
				require.NoError(t, err, again.Output())
				assert.NotContains(t, again.Output(), "waiting for "+w.config(env).Model+" v1", "nothing waits on the unfinished version")
				all := w.ucVersions(env)
				require.Len(t, all, 1, "the unfinished version is deleted, one READY version made")
				assert.Equal(t, catalog.ModelVersionInfoStatusReady, all[0].Status)
				assert.Equal(t, 2, all[0].Version)
				assert.Equal(t, map[string]string{"champion": "2", "release_v1_0_0": "2"}, w.aliases(env))
				if env == cd.EnvDev {
					assert.Contains(t, again.Output(), "deleted "+w.config(env).Model+" v1: PENDING_REGISTRATION")
				}
			})
		}
	}
}

func withVars(kv ...string) func(*cd.Options) {
	return func(o *cd.Options) {
		if o.Vars == nil {
			o.Vars = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			o.Vars[kv[i]] = kv[i+1]
		}
	}
}

// TestUnityCatalogPlan: plan shows a missing catalog as what the deploy
// would refuse, and the alias moves of a first release.
func TestUnityCatalogPlan(t *testing.T) {
	t.Parallel()
	w := newUCWorlds(t)
	w.repo.Tag("v1.0.0")
	r := w.run(cd.EnvDev, withVars("catalog", "qa"))
	p, err := cd.Plan(w.ctx, r.Opts)
	require.NoError(t, err, r.Output())
	require.NotEmpty(t, p.Blocks)
	assert.Contains(t, p.Blocks[0], "catalog: deploy:dev: schema qa.human_interrupt_agent is not in the Unity Catalog metastore")

	r = w.run(cd.EnvDev)
	p, err = cd.Plan(w.ctx, r.Opts)
	require.NoError(t, err, r.Output())
	assert.Empty(t, p.Blocks)
	assert.Equal(t, "train", p.Model.Action)
	assert.Contains(t, p.Model.Detail, "becomes @release_v1_0_0")
}

// TestUnityCatalogFailedPromotionIsRetried: a promotion run that fails
// (here its copy task) fails the deploy; the next deploy of the same
// release, resuming the same record, starts a new run (a new idempotency
// token: the Jobs API hands back the run an earlier token started, so
// reusing it would return the failed run again) and succeeds without a new
// tag. The record keeps both runs and which retried which.
func TestUnityCatalogFailedPromotionIsRetried(t *testing.T) {
	t.Parallel()
	for _, env := range []string{cd.EnvStaging, cd.EnvProd} {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			w := newUCWorlds(t)
			before := allEnvs[:1]
			if env == cd.EnvProd {
				before = allEnvs[:2]
			}
			w.ship("v1.0.0", before...)
			if env == cd.EnvProd {
				w.validated(env)
			}
			job := w.config(env).PromoteJob
			w.server(env).ScriptNextRun(job, emulator.RunOutcome{Result: "FAILED", FailTask: "copy_version", Message: "storage unavailable"})
			failed, err := w.deploy(env)
			var rf *cd.RunFailedError
			require.ErrorAs(t, err, &rf, failed.Output())
			assert.Equal(t, "promotion", rf.What)
			assert.Empty(t, w.aliases(env)["release_v1_0_0"], "nothing promoted")

			again, err := w.deploy(env)
			require.NoError(t, err, again.Output())
			assert.Contains(t, again.Output(), "promotion run "+strconv.FormatInt(rf.RunID, 10)+" ended FAILED before")
			runs := w.server(env).JobRuns(job)
			require.Len(t, runs, 2, "one failed run, one retry")
			assert.Equal(t, "FAILED", string(runs[0].State.ResultState))
			assert.Equal(t, "SUCCESS", string(runs[1].State.ResultState))
			assert.Len(t, w.ucVersions(env), 1, "one copy")
			assert.Equal(t, "1", w.aliases(env)["release_v1_0_0"])

			var attempts []cd.JobAttempt
			ok, err := w.latest(env).Attachment("job_runs", &attempts)
			require.NoError(t, err)
			require.True(t, ok)
			require.Len(t, attempts, 2)
			assert.Equal(t, cd.JobAttempt{Step: "promote", RunID: runs[0].RunId, State: "FAILED", URL: runs[0].RunPageUrl}, attempts[0])
			assert.Equal(t, cd.JobAttempt{Step: "promote", RunID: runs[1].RunId, State: "SUCCESS", URL: runs[1].RunPageUrl, RetryOf: runs[0].RunId}, attempts[1])
		})
	}
}

// TestUnityCatalogReleaseAliasesAreBounded: a model keeps the release
// aliases of its newest cd.KeptReleaseAliases versions (the project's
// bound: no public source states a limit on aliases per model); older ones
// are removed, other aliases never.
func TestUnityCatalogReleaseAliasesAreBounded(t *testing.T) {
	t.Parallel()
	w := newUCWorlds(t)
	w.repo.Tag("v1.0.0")
	r, err := w.deploy(cd.EnvDev, withEnv(cd.ExitAfterStageEnv, "bundle"), func(o *cd.Options) { o.Process = cd.Process{PID: deadPID(t)} })
	require.ErrorIs(t, err, cd.ErrExitedAfterStage, r.Output())
	ms, model, user := w.ws.Metastore(), w.config(cd.EnvDev).Model, w.server(cd.EnvDev).UserName()
	for i := 1; i <= 12; i++ {
		v, err := ms.RegisterVersion(user, model, unitycatalog.NewVersion{Source: "dbfs:/old/" + strconv.Itoa(i)})
		require.NoError(t, err)
		_, aerr := ms.SetAlias(user, model, "release_v0_"+strconv.Itoa(i)+"_0", v.Version)
		require.Nil(t, aerr)
	}
	_, aerr := ms.SetAlias(user, model, "keep_me", 1)
	require.Nil(t, aerr)
	again, err := w.deploy(cd.EnvDev)
	require.NoError(t, err, again.Output())
	var release []string
	for a := range w.aliases(cd.EnvDev) {
		if strings.HasPrefix(a, "release_") {
			release = append(release, a)
		}
	}
	sort.Strings(release)
	assert.Len(t, release, cd.KeptReleaseAliases)
	assert.Contains(t, release, "release_v1_0_0")
	assert.NotContains(t, release, "release_v0_3_0", "the oldest go")
	assert.Contains(t, release, "release_v0_4_0")
	assert.Equal(t, "1", w.aliases(cd.EnvDev)["keep_me"])
	assert.Contains(t, again.Output(), "@release_v0_1_0 removed (v1): only the newest 10 release aliases are kept")
}
