package jobs

import (
	"fmt"
	"sort"
	"time"

	"github.com/databricks/databricks-sdk-go/service/jobs"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// A run goes QUEUED (behind the job's active runs) -> PENDING
// (Options.Pending) -> RUNNING (Options.RunFor, or its scripted duration)
// -> TERMINATED, or SKIPPED at once when over max_concurrent_runs with
// queueing off. Its phase follows from the clock; advanceRun applies what
// its tasks do as it passes each point.

// terminated reports whether a run has ended by now.
func (s *Store) terminated(run *runRec, now time.Time) bool {
	return run.Skipped != "" || !run.CanceledAt.IsZero() || !now.Before(run.EndAt)
}

// phase is a run's life-cycle state at now.
func (s *Store) phase(run *runRec, now time.Time) jobs.RunLifeCycleState {
	switch {
	case run.Skipped != "":
		return jobs.RunLifeCycleStateSkipped
	case s.terminated(run, now):
		return jobs.RunLifeCycleStateTerminated
	case now.Before(run.StartAt.Add(-core.Scaled(s.pending, s.scale))):
		return jobs.RunLifeCycleStateQueued
	case now.Before(run.StartAt):
		return jobs.RunLifeCycleStatePending
	default:
		return jobs.RunLifeCycleStateRunning
	}
}

// advanceRun applies the side effects a run's progress has on the workspace
// (the MLflow run and model of a training task). Call with s.mu held.
func (s *Store) advanceRun(run *runRec, now time.Time) {
	if run.Finished {
		return
	}
	if !run.Started && !now.Before(run.StartAt) && run.CanceledAt.IsZero() {
		run.Started = true
		s.startTraining(run)
	}
	if s.terminated(run, now) {
		run.Finished = true
		s.finishRun(run)
	}
}

// finishRun settles the task results and outputs of an ended run.
func (s *Store) finishRun(run *runRec) {
	if !run.CanceledAt.IsZero() {
		for _, t := range run.Tasks {
			t.Result, t.Message = jobs.RunResultStateCanceled, "Run cancelled."
			t.Output = &jobs.RunOutput{Error: "Run cancelled."}
		}
		s.endTraining(run, "KILLED")
		return
	}
	failing := ""
	if run.Outcome.Result == jobs.RunResultStateFailed {
		failing = run.Outcome.FailTask
		if failing == "" {
			failing = s.defaultFailTask(run)
		}
	}
	var report map[string]any
	if failing == "" {
		var err error
		if report, err = s.completeTraining(run); err != nil {
			failing, run.Outcome.Result, run.Outcome.Message = s.defaultFailTask(run), jobs.RunResultStateFailed, err.Error()
		}
	}
	reports := map[string]map[string]any{}
	for _, t := range run.Tasks {
		if failing != "" || !t.Promotes {
			continue
		}
		r, err := s.promote(run, t)
		if err != nil {
			failing, run.Outcome.Result, run.Outcome.Message = t.TaskKey, jobs.RunResultStateFailed, err.Error()
			break
		}
		reports[t.TaskKey] = r
	}
	upstreamFailed := false
	for _, t := range run.Tasks {
		switch {
		case upstreamFailed:
			t.Result, t.Message = jobs.RunResultStateUpstreamFailed, "Upstream task failed."
			t.Output = &jobs.RunOutput{}
		case t.TaskKey == failing:
			msg := run.Outcome.Message
			if msg == "" {
				msg = "training failed (scripted outcome)"
			}
			t.Result, t.Message = jobs.RunResultStateFailed, "Workload failed, see run output for details"
			t.Output = &jobs.RunOutput{
				Error:      msg,
				ErrorTrace: "Traceback (most recent call last):\n  File \"" + taskFile(run, t.TaskKey) + "\", line 1, in <module>\nRuntimeError: " + msg,
			}
			upstreamFailed = true
		default:
			t.Result = jobs.RunResultStateSuccess
			if r, ok := reports[t.TaskKey]; ok {
				t.Output = &jobs.RunOutput{Logs: pythonJSON(r) + "\n"}
				continue
			}
			t.Output = s.taskOutput(run, t, report)
		}
	}
	if failing != "" {
		s.endTraining(run, "FAILED")
	}
}

func (s *Store) defaultFailTask(run *runRec) string {
	for _, t := range run.Tasks {
		if t.Trains {
			return t.TaskKey
		}
	}
	if len(run.Tasks) == 0 {
		return ""
	}
	return run.Tasks[len(run.Tasks)-1].TaskKey
}

// taskOutput is what get-output reports for a successful task: the training
// report as the last line of the logs (Python tasks) or as the notebook exit
// value (notebook tasks), as train.py prints it.
func (s *Store) taskOutput(run *runRec, t *taskRec, report map[string]any) *jobs.RunOutput {
	out := &jobs.RunOutput{}
	task := findTask(run.Settings, t.TaskKey)
	line := ""
	if t.Trains && report != nil {
		line = pythonJSON(report)
	}
	if task != nil && task.NotebookTask != nil {
		out.NotebookOutput = &jobs.NotebookOutput{Result: line}
		return out
	}
	if line != "" {
		out.Logs = line + "\n"
	}
	return out
}

// taskFile is the file a failing task's traceback names.
func taskFile(run *runRec, key string) string {
	if task := findTask(run.Settings, key); task != nil && task.SparkPythonTask != nil {
		return task.SparkPythonTask.PythonFile
	}
	return "train.py"
}

func findTask(js jobs.JobSettings, key string) *jobs.Task {
	for i := range js.Tasks {
		if js.Tasks[i].TaskKey == key {
			return &js.Tasks[i]
		}
	}
	return nil
}

// renderRun builds the SDK view of a run at now.
func (s *Store) renderRun(run *runRec, now time.Time) jobs.Run {
	lc := s.phase(run, now)
	out := jobs.Run{
		RunId: run.RunID, JobId: run.JobID, JobRunId: run.RunID, NumberInJob: run.RunID,
		OriginalAttemptRunId: run.RunID, RunName: run.RunName, CreatorUserName: run.Creator,
		RunType: jobs.RunTypeJobRun, Trigger: jobs.TriggerTypeOneTime,
		StartTime:  run.Created.UnixMilli(),
		RunPageUrl: s.runPageURL(run.JobID, run.RunID),
	}
	names := make([]string, 0, len(run.Params))
	for k := range run.Params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out.JobParameters = append(out.JobParameters, jobs.JobParameter{Name: k, Value: run.Params[k]})
	}
	if ov := run.Overrides; ov != nil && (len(ov.PythonParams) > 0 || len(ov.NotebookParams) > 0 || len(ov.PythonNamedParams) > 0) {
		out.OverridingParameters = &jobs.RunParameters{PythonParams: ov.PythonParams, NotebookParams: ov.NotebookParams, PythonNamedParams: ov.PythonNamedParams}
	}
	state := &jobs.RunState{LifeCycleState: lc}
	status := &jobs.RunStatus{}
	end := run.EndAt
	if !run.CanceledAt.IsZero() && run.CanceledAt.Before(end) {
		end = run.CanceledAt
	}
	switch lc {
	case jobs.RunLifeCycleStateSkipped:
		state.StateMessage = run.Skipped
		status.State = jobs.RunLifecycleStateV2StateTerminated
		// The SDK's termination codes name this case: "The scheduled run
		// exceeds the limit of maximum concurrent runs set for the job."
		status.TerminationDetails = &jobs.TerminationDetails{Code: jobs.TerminationCodeCodeMaxConcurrentRunsExceeded, Type: jobs.TerminationTypeTypeClientError, Message: run.Skipped}
		out.EndTime = run.Created.UnixMilli()
	case jobs.RunLifeCycleStateQueued:
		state.StateMessage = "Waiting for the active runs of this job to finish."
		status.State = jobs.RunLifecycleStateV2StateQueued
		// The per-job limit, not the workspace's (ACTIVE_RUNS_LIMIT_REACHED).
		status.QueueDetails = &jobs.QueueDetails{Code: jobs.QueueDetailsCodeCodeMaxConcurrentRunsReached, Message: state.StateMessage}
	case jobs.RunLifeCycleStatePending:
		state.StateMessage = "Waiting for cluster"
		status.State = jobs.RunLifecycleStateV2StatePending
	case jobs.RunLifeCycleStateRunning:
		status.State = jobs.RunLifecycleStateV2StateRunning
		out.SetupDuration = run.StartAt.Sub(run.Created).Milliseconds()
	case jobs.RunLifeCycleStateTerminated:
		status.State = jobs.RunLifecycleStateV2StateTerminated
		out.EndTime = end.UnixMilli()
		out.RunDuration = end.Sub(run.Created).Milliseconds()
		out.ForceSendFields = []string{"RunDuration"}
		td := &jobs.TerminationDetails{Code: jobs.TerminationCodeCodeSuccess, Type: jobs.TerminationTypeTypeSuccess}
		switch {
		case !run.CanceledAt.IsZero():
			state.ResultState, state.UserCancelledOrTimedout = jobs.RunResultStateCanceled, true
			state.StateMessage = "Run cancelled."
			td = &jobs.TerminationDetails{Code: jobs.TerminationCodeCodeUserCanceled, Type: jobs.TerminationTypeTypeClientError, Message: state.StateMessage}
		case run.Outcome.Result == jobs.RunResultStateFailed:
			state.ResultState = jobs.RunResultStateFailed
			failed := ""
			for _, t := range run.Tasks {
				if t.Result == jobs.RunResultStateFailed {
					failed = t.TaskKey
				}
			}
			state.StateMessage = fmt.Sprintf("Task %s failed with message: %s.", failed, "Workload failed, see run output for details")
			td = &jobs.TerminationDetails{Code: jobs.TerminationCodeCodeRunExecutionError, Type: jobs.TerminationTypeTypeClientError, Message: state.StateMessage}
		default:
			state.ResultState = jobs.RunResultStateSuccess
		}
		status.TerminationDetails = td
	}
	out.State, out.Status = state, status
	for _, t := range run.Tasks {
		out.Tasks = append(out.Tasks, s.renderTask(run, t, lc, now, end))
	}
	return out
}

func (s *Store) renderTask(run *runRec, t *taskRec, lc jobs.RunLifeCycleState, now, end time.Time) jobs.RunTask {
	rt := jobs.RunTask{RunId: t.RunID, TaskKey: t.TaskKey, StartTime: run.Created.UnixMilli(),
		RunPageUrl: s.runPageURL(run.JobID, t.RunID)}
	if task := findTask(run.Settings, t.TaskKey); task != nil {
		rt.NotebookTask, rt.SparkPythonTask, rt.PythonWheelTask = task.NotebookTask, task.SparkPythonTask, task.PythonWheelTask
		rt.DependsOn, rt.EnvironmentKey, rt.ExistingClusterId = task.DependsOn, task.EnvironmentKey, task.ExistingClusterId
	}
	state := &jobs.RunState{LifeCycleState: lc}
	status := &jobs.RunStatus{}
	switch lc {
	case jobs.RunLifeCycleStateTerminated:
		state.ResultState, state.StateMessage = t.Result, t.Message
		status.State = jobs.RunLifecycleStateV2StateTerminated
		rt.EndTime = end.UnixMilli()
	case jobs.RunLifeCycleStateSkipped:
		status.State = jobs.RunLifecycleStateV2StateTerminated
	case jobs.RunLifeCycleStateRunning:
		status.State = jobs.RunLifecycleStateV2StateRunning
	default:
		status.State = jobs.RunLifecycleStateV2StatePending
	}
	rt.State, rt.Status = state, status
	return rt
}
