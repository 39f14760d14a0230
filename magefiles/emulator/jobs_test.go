package emulator

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	emujobs "github.com/hitl-mlops/interrupt-agent/magefiles/emulator/jobs"
)

// report reads the training report from the task run's output, as the
// deploy stage does.
func report(t *testing.T, w *databricks.WorkspaceClient, run *jobs.Run) map[string]any {
	t.Helper()
	require.NotEmpty(t, run.Tasks)
	out, err := w.Jobs.GetRunOutputByRunId(ctx(t), run.Tasks[0].RunId)
	require.NoError(t, err)
	text := out.Logs
	if out.NotebookOutput != nil {
		text = out.NotebookOutput.Result
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	var rep map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &rep), "logs: %q", text)
	return rep
}

func TestTrainingRunLogsAndRegistersTheModel(t *testing.T) {
	srv, w := start(t, Options{})
	c := ctx(t)
	created, err := w.Jobs.Create(c, trainJob("agent-train", "agent"))
	require.NoError(t, err)

	run, err := runNowAndWait(c, w, jobs.RunNow{JobId: created.JobId, JobParameters: map[string]string{"release": "v1.2.0"}})
	require.NoError(t, err)
	assert.Equal(t, jobs.RunLifeCycleStateTerminated, run.State.LifeCycleState)
	assert.Equal(t, jobs.RunResultStateSuccess, run.State.ResultState)
	assert.Equal(t, jobs.RunLifecycleStateV2StateTerminated, run.Status.State)
	require.Len(t, run.Tasks, 1)
	assert.Equal(t, jobs.RunResultStateSuccess, run.Tasks[0].State.ResultState)

	rep := report(t, w, run)
	runID, _ := rep["run_id"].(string)
	require.Len(t, runID, 32)
	assert.Equal(t, "1", rep["model_version"])
	assert.Equal(t, "agent", rep["model_name"])
	assert.Equal(t, "v1.2.0", rep["release"], "{{job.parameters.release}} is resolved")
	assert.Equal(t, true, rep["logged"])
	assert.Equal(t, 1.0, rep["accuracy"])

	// The MLflow run: named after the release, finished, with the model.
	mr, err := w.Experiments.GetRun(c, ml.GetRunRequest{RunId: runID})
	require.NoError(t, err)
	assert.Equal(t, "train-v1.2.0", mr.Run.Info.RunName)
	assert.Equal(t, ml.RunInfoStatusFinished, mr.Run.Info.Status)
	tags := map[string]string{}
	for _, tag := range mr.Run.Data.Tags {
		tags[tag.Key] = tag.Value
	}
	assert.Equal(t, "abc1234", tags["git_sha"])
	assert.Equal(t, fmt.Sprint(run.RunId), tags["mlflow.databricks.jobRunID"])
	exp, err := w.Experiments.GetByName(c, ml.GetByNameRequest{ExperimentName: "/Shared/agent"})
	require.NoError(t, err)
	assert.Equal(t, exp.Experiment.ExperimentId, mr.Run.Info.ExperimentId)
	files, err := w.Experiments.ListArtifactsAll(c, ml.ListArtifactsRequest{RunId: runID})
	require.NoError(t, err)
	require.Len(t, files, 1)
	assert.Equal(t, emujobs.ModelArtifactPath, files[0].Path)
	assert.True(t, files[0].IsDir)
	files, err = w.Experiments.ListArtifactsAll(c, ml.ListArtifactsRequest{RunId: runID, Path: emujobs.ModelArtifactPath})
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, f.Path)
	}
	assert.Contains(t, names, "agent/MLmodel")

	// The registered version is READY and points at the run.
	mv, ok := srv.ModelVersion("agent", "1")
	require.True(t, ok)
	assert.Equal(t, ml.ModelVersionStatusReady, mv.Status)
	assert.Equal(t, runID, mv.RunId)
	// The deploy stage can also register runs:/<run_id>/agent itself.
	created2, err := w.ModelRegistry.CreateModelVersion(c, ml.CreateModelVersionRequest{Name: "agent", Source: "runs:/" + runID + "/" + emujobs.ModelArtifactPath})
	require.NoError(t, err)
	assert.Equal(t, "2", created2.ModelVersion.Version)
	assert.Equal(t, runID, created2.ModelVersion.RunId)
}

func TestNotebookTaskReportsThroughNotebookOutput(t *testing.T) {
	_, w := start(t, Options{})
	c := ctx(t)
	created, err := w.Jobs.Create(c, jobs.CreateJob{Name: "nb", Tasks: []jobs.Task{{TaskKey: "train_model",
		NotebookTask: &jobs.NotebookTask{NotebookPath: "/Shared/train", BaseParameters: map[string]string{"model_name": "agent-nb"}}}}})
	require.NoError(t, err)
	run, err := runNowAndWait(c, w, jobs.RunNow{JobId: created.JobId})
	require.NoError(t, err)
	rep := report(t, w, run)
	assert.Equal(t, "agent-nb", rep["model_name"])
	assert.Equal(t, "1", rep["model_version"])
	// The parent run id works for get-output when the job has one task.
	out, err := w.Jobs.GetRunOutputByRunId(c, run.RunId)
	require.NoError(t, err)
	require.NotNil(t, out.NotebookOutput)
	assert.Contains(t, out.NotebookOutput.Result, `"run_id": "`)
}

func TestScriptedRunFailures(t *testing.T) {
	tests := []struct {
		name    string
		outcome RunOutcome
		wantErr string
	}{
		{"failed training", RunOutcome{Result: jobs.RunResultStateFailed, Message: "CUDA out of memory"}, "CUDA out of memory"},
		{"accuracy below the gate", RunOutcome{Metrics: map[string]float64{"accuracy": 0.5}}, "accuracy 0.500 is below --min-accuracy 0.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, w := start(t, Options{})
			c := ctx(t)
			created, err := w.Jobs.Create(c, trainJob("agent-train", "agent"))
			require.NoError(t, err)
			srv.ScriptNextRun("agent-train", tt.outcome)

			run, err := runNowAndWait(c, w, jobs.RunNow{JobId: created.JobId})
			require.NoError(t, err, "the SDK waiter succeeds on TERMINATED even when the run failed")
			assert.Equal(t, jobs.RunResultStateFailed, run.State.ResultState)
			assert.Contains(t, run.State.StateMessage, "Task train failed")
			assert.Equal(t, jobs.TerminationCodeCodeRunExecutionError, run.Status.TerminationDetails.Code)
			out, err := w.Jobs.GetRunOutputByRunId(c, run.Tasks[0].RunId)
			require.NoError(t, err)
			assert.Contains(t, out.Error, tt.wantErr)
			assert.Contains(t, out.ErrorTrace, "Traceback")
			_, registered := srv.ModelVersion("agent", "1")
			assert.False(t, registered, "a failed run registers nothing")

			// The script is spent: the next run succeeds.
			run, err = runNowAndWait(c, w, jobs.RunNow{JobId: created.JobId})
			require.NoError(t, err)
			assert.Equal(t, jobs.RunResultStateSuccess, run.State.ResultState)
		})
	}
}

func TestRegistrationFailureFailsTheTrainingRun(t *testing.T) {
	srv, w := start(t, Options{})
	c := ctx(t)
	created, err := w.Jobs.Create(c, trainJob("agent-train", "agent"))
	require.NoError(t, err)
	srv.FailNextRegistration("agent", "storage unavailable")
	run, err := runNowAndWait(c, w, jobs.RunNow{JobId: created.JobId})
	require.NoError(t, err)
	assert.Equal(t, jobs.RunResultStateFailed, run.State.ResultState)
	out, err := w.Jobs.GetRunOutputByRunId(c, run.Tasks[0].RunId)
	require.NoError(t, err)
	assert.Contains(t, out.Error, "storage unavailable")
	mv, ok := srv.ModelVersion("agent", "1")
	require.True(t, ok)
	assert.Equal(t, ml.ModelVersionStatusFailedRegistration, mv.Status)
}

func TestRunLifecycleWithManualClock(t *testing.T) {
	clock := NewManualClock(time.Unix(1_700_000_000, 0))
	srv, w := start(t, Options{Clock: clock, TimeScale: 1})
	c := ctx(t)
	created, err := w.Jobs.Create(c, trainJob("agent-train", "agent"))
	require.NoError(t, err)
	srv.ScriptNextRun("agent-train", RunOutcome{Duration: 10 * time.Minute})
	wait, err := w.Jobs.RunNow(c, jobs.RunNow{JobId: created.JobId})
	require.NoError(t, err)
	runID := wait.Response.RunId

	state := func() (jobs.RunLifeCycleState, jobs.RunLifecycleStateV2State) {
		run, err := w.Jobs.GetRun(c, jobs.GetRunRequest{RunId: runID})
		require.NoError(t, err)
		return run.State.LifeCycleState, run.Status.State
	}
	lc, v2 := state()
	assert.Equal(t, jobs.RunLifeCycleStatePending, lc)
	assert.Equal(t, jobs.RunLifecycleStateV2StatePending, v2)

	clock.Advance(DefaultDurations.RunPending)
	lc, v2 = state()
	assert.Equal(t, jobs.RunLifeCycleStateRunning, lc)
	assert.Equal(t, jobs.RunLifecycleStateV2StateRunning, v2)
	runs, err := w.Experiments.SearchRunsAll(c, ml.SearchRuns{Filter: fmt.Sprintf("tags.mlflow.databricks.jobRunID = '%d'", runID)})
	require.NoError(t, err)
	require.Len(t, runs, 1, "the MLflow run exists while training runs")
	assert.Equal(t, ml.RunInfoStatusRunning, runs[0].Info.Status)

	clock.Advance(10*time.Minute - time.Second)
	lc, _ = state()
	assert.Equal(t, jobs.RunLifeCycleStateRunning, lc, "the scripted duration holds")
	clock.Advance(time.Second)
	run, err := wait.Get()
	require.NoError(t, err)
	assert.Equal(t, jobs.RunResultStateSuccess, run.State.ResultState)
	assert.Equal(t, (10*time.Minute + DefaultDurations.RunPending).Milliseconds(), run.RunDuration)
}

func TestCancelRun(t *testing.T) {
	clock := NewManualClock(time.Unix(1_700_000_000, 0))
	srv, w := start(t, Options{Clock: clock, TimeScale: 1})
	c := ctx(t)
	created, err := w.Jobs.Create(c, trainJob("agent-train", "agent"))
	require.NoError(t, err)
	wait, err := w.Jobs.RunNow(c, jobs.RunNow{JobId: created.JobId})
	require.NoError(t, err)
	clock.Advance(time.Minute)
	run, err := cancelRunAndWait(c, w, jobs.CancelRun{RunId: wait.Response.RunId})
	require.NoError(t, err)
	assert.Equal(t, jobs.RunResultStateCanceled, run.State.ResultState)
	assert.True(t, run.State.UserCancelledOrTimedout)
	assert.Equal(t, jobs.RunResultStateCanceled, run.Tasks[0].State.ResultState)
	mr := srv.JobRuns("agent-train")
	require.Len(t, mr, 1)
	runs, err := w.Experiments.SearchRunsAll(c, ml.SearchRuns{Filter: "attributes.status = 'KILLED'"})
	require.NoError(t, err)
	assert.Len(t, runs, 1, "the training's MLflow run is killed")
	require.NoError(t, w.Jobs.CancelRunByRunId(c, wait.Response.RunId), "cancelling an ended run is a no-op")
}

func TestIdempotencyAndConcurrency(t *testing.T) {
	clock := NewManualClock(time.Unix(1_700_000_000, 0))
	_, w := start(t, Options{Clock: clock, TimeScale: 1})
	c := ctx(t)
	created, err := w.Jobs.Create(c, trainJob("agent-train", "agent"))
	require.NoError(t, err)

	first, err := w.Jobs.RunNow(c, jobs.RunNow{JobId: created.JobId, IdempotencyToken: "release-v1.2.0"})
	require.NoError(t, err)
	again, err := w.Jobs.RunNow(c, jobs.RunNow{JobId: created.JobId, IdempotencyToken: "release-v1.2.0"})
	require.NoError(t, err)
	assert.Equal(t, first.Response.RunId, again.Response.RunId, "a retried run-now starts no second run")

	// With queueing off, a run over the limit is skipped.
	require.NoError(t, w.Jobs.Update(c, jobs.UpdateJob{JobId: created.JobId, NewSettings: &jobs.JobSettings{Queue: &jobs.QueueSettings{Enabled: false}}}))
	skipped, err := w.Jobs.RunNow(c, jobs.RunNow{JobId: created.JobId})
	require.NoError(t, err)
	run, err := skipped.Get()
	require.NoError(t, err, "the waiter accepts SKIPPED")
	assert.Equal(t, jobs.RunLifeCycleStateSkipped, run.State.LifeCycleState)
	assert.Contains(t, run.State.StateMessage, "maximum concurrent runs")

	// With queueing on, the second run waits for the first.
	require.NoError(t, w.Jobs.Update(c, jobs.UpdateJob{JobId: created.JobId, NewSettings: &jobs.JobSettings{Queue: &jobs.QueueSettings{Enabled: true}}}))
	queued, err := w.Jobs.RunNow(c, jobs.RunNow{JobId: created.JobId})
	require.NoError(t, err)
	got, err := w.Jobs.GetRun(c, jobs.GetRunRequest{RunId: queued.Response.RunId})
	require.NoError(t, err)
	assert.Equal(t, jobs.RunLifeCycleStateQueued, got.State.LifeCycleState)
	clock.Advance(DefaultDurations.RunPending + DefaultDurations.RunDuration)
	got, err = w.Jobs.GetRun(c, jobs.GetRunRequest{RunId: queued.Response.RunId})
	require.NoError(t, err)
	assert.Equal(t, jobs.RunLifeCycleStatePending, got.State.LifeCycleState)

	active, err := w.Jobs.ListRunsAll(c, jobs.ListRunsRequest{JobId: created.JobId, ActiveOnly: true})
	require.NoError(t, err)
	assert.Len(t, active, 1)
	all, err := w.Jobs.ListRunsAll(c, jobs.ListRunsRequest{JobId: created.JobId, Limit: 1})
	require.NoError(t, err)
	assert.Len(t, all, 3, "three runs across three pages")
}

func TestGetOutputOfAMultiTaskRun(t *testing.T) {
	_, w := start(t, Options{})
	c := ctx(t)
	created, err := w.Jobs.Create(c, jobs.CreateJob{Name: "two", Tasks: []jobs.Task{
		{TaskKey: "prepare", NotebookTask: &jobs.NotebookTask{NotebookPath: "/Shared/prep"}},
		{TaskKey: "train", DependsOn: []jobs.TaskDependency{{TaskKey: "prepare"}}, SparkPythonTask: &jobs.SparkPythonTask{PythonFile: "/Shared/train.py", Parameters: []string{"--model-name", "m2"}}},
	}})
	require.NoError(t, err)
	run, err := runNowAndWait(c, w, jobs.RunNow{JobId: created.JobId})
	require.NoError(t, err)
	_, err = w.Jobs.GetRunOutputByRunId(c, run.RunId)
	require.ErrorIs(t, err, apierr.ErrInvalidParameterValue)
	assert.Contains(t, err.Error(), "multiple tasks")
	require.Len(t, run.Tasks, 2)
	out, err := w.Jobs.GetRunOutputByRunId(c, run.Tasks[1].RunId)
	require.NoError(t, err)
	assert.Contains(t, out.Logs, `"model_name": "m2"`)
	assert.Equal(t, run.Tasks[1].RunId, out.Metadata.RunId)
}
