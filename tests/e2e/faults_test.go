package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// noServingChange asserts no endpoint was created or reconfigured.
func (w *world) noServingChange(why string) {
	w.t.Helper()
	assert.Zero(w.t, w.opsCount("serving-endpoints.create"), why)
	assert.Zero(w.t, w.opsCount("serving-endpoints.update-config"), why)
}

func (w *world) lockHeld(env string) bool {
	_, ok := w.srv.WorkspaceFile(w.config(env).LockFile)
	return ok
}

func TestTrainingRunFails(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.repo.Tag("v1.0.0")
	job := w.config(cd.EnvDev).TrainingJob
	w.srv.ScriptNextRun(job, emulator.RunOutcome{Result: jobs.RunResultStateFailed, Message: "CUDA out of memory in the feature step"})

	r, err := w.deploy(cd.EnvDev)
	require.Error(t, err)
	var rf *cd.RunFailedError
	require.ErrorAs(t, err, &rf)
	assert.Equal(t, "FAILED", rf.State)
	msg := err.Error()
	assert.Contains(t, msg, "ended FAILED")
	assert.Contains(t, msg, "Task train failed", "the run's state message")
	assert.Contains(t, msg, "CUDA out of memory in the feature step", "the task's error")
	assert.Contains(t, msg, w.srv.URL()+"/jobs/", "the run's URL")
	assert.Zero(t, w.opsCount("registry.model-versions.create"))
	w.noServingChange("a failed training run serves nothing")
	rec := w.latest(cd.EnvDev)
	assert.Equal(t, release.OutcomeFailed, rec.Outcome)
	assert.Contains(t, rec.Error, "CUDA out of memory")
	assert.Equal(t, release.StageFailed, rec.Stage("train").Status)
	assert.False(t, w.lockHeld(cd.EnvDev), "lock released after a failure")
	assert.Contains(t, r.Output(), "✗ failed")

	// The next attempt retrains and converges, resuming the same record.
	r, err = w.deploy(cd.EnvDev)
	require.NoError(t, err, r.Output())
	assert.Len(t, w.srv.JobRuns(job), 2)
	assert.Len(t, w.versions(cd.EnvDev), 1)
	recs := w.records(cd.EnvDev)
	require.Len(t, recs, 1, "the failed record was resumed")
	assert.Equal(t, release.OutcomeDeployed, recs[0].Outcome)
	require.Len(t, recs[0].Notes, 1)
	assert.Contains(t, recs[0].Notes[0], "resumed")
}

func TestTrainingBelowAccuracyFails(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.repo.Tag("v1.0.0")
	w.srv.ScriptNextRun(w.config(cd.EnvDev).TrainingJob, emulator.RunOutcome{Metrics: map[string]float64{"accuracy": 0.5}})
	_, err := w.deploy(cd.EnvDev)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "accuracy 0.500 is below --min-accuracy")
	assert.Empty(t, w.versions(cd.EnvDev))
}

func TestRegistrationFails(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.repo.Tag("v1.0.0")
	w.release(cd.EnvDev)
	w.srv.FailNextRegistration(w.config(cd.EnvStaging).Model, "artifact store unreachable")
	w.srv.ResetRequests()

	_, err := w.deploy(cd.EnvStaging)
	require.Error(t, err)
	var rf *cd.RegistrationFailedError
	require.ErrorAs(t, err, &rf)
	assert.Contains(t, err.Error(), "FAILED_REGISTRATION")
	assert.Contains(t, err.Error(), "artifact store unreachable")
	w.noServingChange("a failed registration serves nothing")
	assert.Equal(t, release.OutcomeFailed, w.latest(cd.EnvStaging).Outcome)

	// Re-run: the dead version is not reused; one READY copy is made.
	r, err := w.deploy(cd.EnvStaging)
	require.NoError(t, err, r.Output())
	vs := w.versions(cd.EnvStaging)
	require.Len(t, vs, 2)
	assert.Equal(t, ml.ModelVersionStatusFailedRegistration, vs[0].Status)
	assert.Equal(t, ml.ModelVersionStatusReady, vs[1].Status)
	assert.Equal(t, map[string]int{w.served(cd.EnvStaging, "2"): 100}, w.traffic(cd.EnvStaging))
}

func TestEndpointUpdateFails(t *testing.T) {
	t.Parallel()
	var logs []string
	for i := 1; i <= 30; i++ {
		logs = append(logs, fmt.Sprintf("build step %02d", i))
	}
	logs = append(logs, "ERROR: could not resolve mlflow==9.9 from requirements.txt")
	buildLog := strings.Join(logs, "\n")

	for _, when := range []string{"create", "update"} {
		t.Run(when, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.repo.Tag("v1.0.0")
			if when == "update" {
				w.release(cd.EnvDev)
				w.repo.Commit("next")
				w.repo.Tag("v1.1.0")
			}
			w.srv.FailNextEndpointUpdate(w.config(cd.EnvDev).Endpoint.Name, buildLog)

			_, err := w.deploy(cd.EnvDev)
			require.Error(t, err)
			var uf *rollout.UpdateFailedError
			require.ErrorAs(t, err, &uf)
			msg := err.Error()
			assert.Contains(t, msg, "UPDATE_FAILED")
			assert.Contains(t, msg, "ERROR: could not resolve mlflow==9.9")
			assert.Contains(t, msg, "build step 30")
			assert.NotContains(t, msg, "build step 05", "only the tail of the build logs")
			assert.Equal(t, release.OutcomeFailed, w.latest(cd.EnvDev).Outcome)
			if when == "update" {
				assert.Equal(t, map[string]int{w.served(cd.EnvDev, "1"): 100}, w.traffic(cd.EnvDev), "the previous config keeps serving")
			}

			// The fix is in the workspace now; the re-run resumes without retraining.
			r, err := w.deploy(cd.EnvDev)
			require.NoError(t, err, r.Output())
			assert.Contains(t, r.Output(), "trained before the interruption")
			want := "1"
			if when == "update" {
				want = "2"
			}
			assert.Equal(t, map[string]int{w.served(cd.EnvDev, want): 100}, w.traffic(cd.EnvDev))
			assert.Len(t, w.versions(cd.EnvDev), len(want)*map[string]int{"1": 1, "2": 2}[want])
			assert.Len(t, w.srv.JobRuns(w.config(cd.EnvDev).TrainingJob), map[string]int{"1": 1, "2": 2}[want])
		})
	}
}

func TestTransientFaultsAreRetried(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.repo.Tag("v1.0.0")
	// Each fault costs a retry delay of the SDK (about a second): a few
	// on the calls where a blind retry could duplicate something.
	w.srv.InjectFaults("POST /api/2.2/jobs/run-now", emulator.Fault503)
	w.srv.InjectFaults("POST /api/2.0/mlflow/model-versions/create", emulator.Fault503, emulator.Fault429)
	w.srv.InjectFaults("GET /api/2.0/serving-endpoints/*", emulator.Fault429)
	w.srv.InjectFaults("POST /api/2.0/serving-endpoints", emulator.Fault503)

	dev, err := w.deploy(cd.EnvDev)
	require.NoError(t, err, dev.Output())
	// Each retried answer is one line: environment, attempt, call, answer, wait.
	assert.Contains(t, dev.Output(), "   dev: retry 1 of POST /api/2.2/jobs/run-now after 503 Service Unavailable: waiting about 1s\n")
	v, err := w.verify(cd.EnvDev)
	require.NoError(t, err, v.Output())
	w.release(cd.EnvStaging)

	assert.Zero(t, w.srv.PendingFaults(), "every fault fired")
	assert.Len(t, w.srv.JobRuns(w.config(cd.EnvDev).TrainingJob), 1, "one training run")
	assert.Len(t, w.versions(cd.EnvDev), 1, "no duplicate dev version")
	assert.Len(t, w.versions(cd.EnvStaging), 1, "no duplicate staging version")
	assert.Equal(t, map[string]int{w.served(cd.EnvStaging, "1"): 100}, w.traffic(cd.EnvStaging))
}

func TestServerErrorOnCreateThenConverges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, env, match, want string
	}{
		{name: "endpoint create", env: cd.EnvDev, match: "POST /api/2.0/serving-endpoints", want: "create endpoint"},
		{name: "job create", env: cd.EnvDev, match: "POST /api/2.2/jobs/create", want: "create job"},
		{name: "promotion copy", env: cd.EnvStaging, match: "POST /api/2.0/mlflow/model-versions/create", want: "promote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.repo.Tag("v1.0.0")
			if tt.env == cd.EnvStaging {
				w.release(cd.EnvDev)
			}
			w.srv.InjectFaults(tt.match, emulator.Fault500)
			_, err := w.deploy(tt.env)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "Internal Server Error", "the service's answer is shown")
			assert.Equal(t, release.OutcomeFailed, w.latest(tt.env).Outcome)

			r, err := w.deploy(tt.env)
			require.NoError(t, err, r.Output())
			assert.Len(t, w.versions(tt.env), 1, "one version")
			assert.Len(t, w.srv.JobRuns(w.config(cd.EnvDev).TrainingJob), 1, "one training run")
			list, err := w.w.Jobs.ListAll(w.ctx, jobs.ListJobsRequest{Name: w.config(tt.env).TrainingJob})
			require.NoError(t, err)
			assert.Len(t, list, 1, "one job")
			assert.Equal(t, map[string]int{w.served(tt.env, "1"): 100}, w.traffic(tt.env))
			assert.Len(t, w.records(tt.env), 1, "the failed record was resumed")
		})
	}
}

func TestVerifyThresholdsExceeded(t *testing.T) {
	t.Parallel()
	// Real time at scale 1, with near-instant state machines, so the
	// injected latency is felt by the load test.
	w := newWorld(t, func(o *emulator.Options) {
		o.TimeScale = 1
		o.Durations = emulator.Durations{EndpointUpdate: time.Millisecond, TrafficUpdate: time.Millisecond,
			RunPending: time.Millisecond, RunDuration: time.Millisecond, ModelRegistration: time.Millisecond}
	})
	w.repo.Tag("v1.0.0")
	w.release(cd.EnvDev)
	r, err := w.deploy(cd.EnvStaging)
	require.NoError(t, err, r.Output())
	w.srv.SetVersionBehavior(w.config(cd.EnvStaging).Model, "1", emulator.Behavior{Latency: emulator.FixedLatency(30 * time.Millisecond)})

	r, err = w.verify(cd.EnvStaging, func(o *cd.Options) { o.Vars["load_max_p95_ms"] = "10" })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "verify staging (endpoint langgraph-human-interrupt-staging) failed: load: p95 latency")
	assert.Contains(t, r.Output(), "p95")
	rec := w.latest(cd.EnvStaging)
	assert.Equal(t, release.OutcomeVerifyFailed, rec.Outcome)
	require.NotNil(t, rec.Verify)
	assert.False(t, rec.Verify.Passed)

	// A failed verify stops progression: prod refuses, changing nothing.
	w.srv.ResetRequests()
	_, err = w.deploy(cd.EnvProd)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is verify_failed (verification failed): prod promotes only a verified release")
	w.noMutation("prod after a failed staging verify")
}

func TestLockHeldByAnotherDeploy(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.repo.Tag("v1.0.0")
	l := &release.Locker{Env: cd.EnvDev, Store: workspace.Files{API: w.w.Workspace}, Path: w.config(cd.EnvDev).LockFile}
	held, err := l.Acquire(w.ctx, release.Lock{Holder: "alice@laptop", Release: "v0.9.0", Machine: "laptop", PID: 1})
	require.NoError(t, err)
	w.srv.ResetRequests()

	_, err = w.deploy(cd.EnvDev)
	require.Error(t, err)
	assert.ErrorIs(t, err, release.ErrLocked)
	assert.Contains(t, err.Error(), "dev is locked by alice@laptop (release v0.9.0)")
	for _, r := range w.srv.MutatingRequests() {
		assert.Equal(t, "workspace.import", r.Op, "only the refused lock attempt")
		assert.GreaterOrEqual(t, r.Status, 400)
	}
	require.NoError(t, held.Release(w.ctx))
	_, err = w.deploy(cd.EnvDev)
	require.NoError(t, err)
}

// deadPID is the id of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	return cmd.Process.Pid
}

func TestKilledAfterStageResumes(t *testing.T) {
	t.Parallel()
	for _, stage := range []string{"lock", "record", "bundle", "train", "register", "serve"} {
		t.Run(stage, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.repo.Tag("v1.0.0")
			r := w.run(cd.EnvDev, withEnv(cd.ExitAfterStageEnv, stage), func(o *cd.Options) {
				o.Process = cd.Process{PID: deadPID(t)}
			})
			err := cd.Deploy(context.Background(), r.Opts)
			require.Error(t, err)
			assert.Equal(t, []int{cd.ExitAfterStageCode}, r.Exits)
			assert.True(t, w.lockHeld(cd.EnvDev), "a killed deploy leaves its lock")

			r, err = w.deploy(cd.EnvDev)
			require.NoError(t, err, r.Output())
			assert.Contains(t, r.Output(), "taking over the lock")
			assert.Len(t, w.srv.JobRuns(w.config(cd.EnvDev).TrainingJob), 1, "trained once")
			assert.Len(t, w.versions(cd.EnvDev), 1, "one version")
			assert.Equal(t, map[string]int{w.served(cd.EnvDev, "1"): 100}, w.traffic(cd.EnvDev))
			assert.False(t, w.lockHeld(cd.EnvDev))
			recs := w.records(cd.EnvDev)
			if stage == "lock" {
				require.Len(t, recs, 1, "killed before the record: one record")
			} else {
				require.Len(t, recs, 1, "the interrupted record is resumed")
				assert.Contains(t, strings.Join(recs[0].Notes, "\n"), "resumed")
			}
			assert.Equal(t, release.OutcomeDeployed, recs[0].Outcome)
		})
	}
}

// TestRegisterFromTheRun: when the training run registers its model
// elsewhere, the register stage registers the run's model in the
// environment's model itself, once.
func TestRegisterFromTheRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	job := filepath.Join(w.repo.Dir, "resources", "training_job.yml")
	raw, err := os.ReadFile(job)
	require.NoError(t, err)
	edited := strings.Replace(string(raw), "- ${resources.models.human_interrupt_model.name}", "- scratch_model", 1)
	require.NotEqual(t, string(raw), edited)
	require.NoError(t, os.WriteFile(job, []byte(edited), 0o644))
	w.repo.Git("commit", "--quiet", "-am", "train into a scratch model")
	w.repo.Tag("v1.0.0")

	r := w.run(cd.EnvDev, withEnv(cd.ExitAfterStageEnv, "register"), func(o *cd.Options) { o.Process = cd.Process{PID: deadPID(t)} })
	require.Error(t, cd.Deploy(w.ctx, r.Opts))
	assert.Contains(t, r.Output(), "registered from the MLflow run")
	r, err = w.deploy(cd.EnvDev)
	require.NoError(t, err, r.Output())
	vs := w.versions(cd.EnvDev)
	require.Len(t, vs, 1, "registered once, found again after the interruption")
	run := w.srv.JobRuns(w.config(cd.EnvDev).TrainingJob)[0]
	assert.Equal(t, strconv.FormatInt(run.RunId, 10), tags(vs[0])["job_run_id"])
	assert.Equal(t, "runs:/"+vs[0].RunId+"/agent", vs[0].Source)
}

// TestRetriesUnderRandomFaultsAreTold: about 20% of the deploy's API calls
// answered 503 (bounded to 25, seeded): the release completes with nothing
// duplicated, and each answer the SDK retried is one line of the output.
func TestRetriesUnderRandomFaultsAreTold(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(o *emulator.Options) { o.Seed = 7 })
	w.repo.Tag("v1.0.0")
	require.NoError(t, w.srv.AddFaultRule(emulator.FaultRule{Match: "/api/**", Rate: 0.2, Fault: emulator.Fault503, Max: 25}))
	r, err := w.deploy(cd.EnvDev)
	require.NoError(t, err, r.Output())
	fired := 0
	for _, req := range w.srv.Requests() {
		if req.Fault != "" {
			fired++
		}
	}
	require.Positive(t, fired)
	assert.Equal(t, fired, strings.Count(r.Output(), "dev: retry "), "one line per retried answer")
	assert.Len(t, w.srv.JobRuns(w.config(cd.EnvDev).TrainingJob), 1, "one training run")
	assert.Len(t, w.versions(cd.EnvDev), 1, "no duplicate version")
}
