package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/jobs"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// RunOutcome scripts how a job run ends (see Server.ScriptNextRun).
type RunOutcome struct {
	// Result is SUCCESS (the default) or FAILED.
	Result jobs.RunResultState `json:"result,omitempty"`
	// Message is the error of a failed run.
	Message string `json:"message,omitempty"`
	// Duration is the RUNNING time in service time; 0 uses Durations.RunDuration.
	Duration time.Duration `json:"duration,omitempty"`
	// Metrics override the metrics the training task logs (accuracy,
	// tool_accuracy, risk_accuracy). An accuracy below the task's
	// --min-accuracy (0.9 by default) fails the run, as train.py does.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// FailTask is the task key that fails; default the training task, or the
	// last task when none trains.
	FailTask string `json:"fail_task,omitempty"`
}

func (s *Server) registerJobs() {
	s.handleJSON("POST /api/2.2/jobs/create", "jobs.create", true, s.jobsCreate)
	s.handleJSON("POST /api/2.2/jobs/reset", "jobs.reset", true, s.jobsReset)
	s.handleJSON("POST /api/2.2/jobs/update", "jobs.update", true, s.jobsUpdate)
	s.handleJSON("POST /api/2.2/jobs/delete", "jobs.delete", true, s.jobsDelete)
	s.handleJSON("GET /api/2.2/jobs/get", "jobs.get", false, s.jobsGet)
	s.handleJSON("GET /api/2.2/jobs/list", "jobs.list", false, s.jobsList)
	s.handleJSON("POST /api/2.2/jobs/run-now", "jobs.run-now", true, s.jobsRunNow)
	s.handleJSON("GET /api/2.2/jobs/runs/get", "jobs.runs.get", false, s.runsGet)
	s.handleJSON("GET /api/2.2/jobs/runs/get-output", "jobs.runs.get-output", false, s.runsGetOutput)
	s.handleJSON("GET /api/2.2/jobs/runs/list", "jobs.runs.list", false, s.runsList)
	s.handleJSON("POST /api/2.2/jobs/runs/cancel", "jobs.runs.cancel", true, s.runsCancel)
}

// A missing job or run is 400 INVALID_PARAMETER_VALUE on every jobs call;
// the SDK remaps it to ErrResourceDoesNotExist for jobs/get and runs/get
// only (apierr's error overrides), as for the service.
func jobMissing(id int64) *apiError { return invalidParam("Job %d does not exist.", id) }
func runMissing(id int64) *apiError { return invalidParam("Run %d does not exist.", id) }

// validateSettings checks what the service checks about tasks.
func validateSettings(js *jobs.JobSettings) *apiError {
	keys := map[string]bool{}
	for i, t := range js.Tasks {
		if t.TaskKey == "" {
			return invalidParam("tasks[%d].task_key is required.", i)
		}
		if keys[t.TaskKey] {
			return invalidParam("Task key %s is used more than once.", t.TaskKey)
		}
		keys[t.TaskKey] = true
	}
	for _, t := range js.Tasks {
		for _, d := range t.DependsOn {
			if !keys[d.TaskKey] {
				return invalidParam("Task %s depends on %s, which does not exist.", t.TaskKey, d.TaskKey)
			}
		}
	}
	if js.MaxConcurrentRuns < 0 || js.MaxConcurrentRuns > 1000 {
		return invalidParam("max_concurrent_runs must be between 0 and 1000.")
	}
	return nil
}

func normalizeSettings(js *jobs.JobSettings) {
	if js.Name == "" {
		js.Name = "Untitled"
	}
	if js.MaxConcurrentRuns == 0 && !contains(js.ForceSendFields, "MaxConcurrentRuns") {
		js.MaxConcurrentRuns = 1
	}
	js.Format = jobs.FormatMultiTask
}

// convert copies between SDK structs with the same JSON fields.
func convert(from, to any) error {
	raw, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, to)
}

func (s *Server) jobsCreate(r *http.Request) (any, *apiError) {
	var req jobs.CreateJob
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	var js jobs.JobSettings
	if err := convert(req, &js); err != nil {
		return nil, invalidParam("job settings: %v", err)
	}
	if err := validateSettings(&js); err != nil {
		return nil, err
	}
	normalizeSettings(&js)
	id := s.st.nextID()
	s.st.Jobs[id] = &jobs.Job{
		JobId: id, CreatorUserName: s.user, RunAsUserName: s.user,
		CreatedTime: ms(s.now()), Settings: &js,
	}
	return jobs.CreateResponse{JobId: id}, nil
}

func (s *Server) jobsReset(r *http.Request) (any, *apiError) {
	var req jobs.ResetJob
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if err := validateSettings(&req.NewSettings); err != nil {
		return nil, err
	}
	normalizeSettings(&req.NewSettings)
	job, ok := s.st.Jobs[req.JobId]
	if !ok {
		return nil, jobMissing(req.JobId)
	}
	job.Settings = &req.NewSettings
	return nil, nil
}

// jobsUpdate merges new_settings: top-level fields are replaced, tasks and
// job clusters are merged by key, fields_to_remove drops fields or entries.
func (s *Server) jobsUpdate(r *http.Request) (any, *apiError) {
	var req jobs.UpdateJob
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	job, ok := s.st.Jobs[req.JobId]
	if !ok {
		return nil, jobMissing(req.JobId)
	}
	var cur, upd map[string]any
	if err := convert(job.Settings, &cur); err != nil {
		return nil, invalidParam("job settings: %v", err)
	}
	if req.NewSettings != nil {
		if err := convert(req.NewSettings, &upd); err != nil {
			return nil, invalidParam("new_settings: %v", err)
		}
	}
	for k, v := range upd {
		switch k {
		case "tasks":
			cur[k] = mergeByKey(cur[k], v, "task_key")
		case "job_clusters":
			cur[k] = mergeByKey(cur[k], v, "job_cluster_key")
		default:
			cur[k] = v
		}
	}
	for _, f := range req.FieldsToRemove {
		field, key, nested := strings.Cut(f, "/")
		if !nested {
			delete(cur, field)
			continue
		}
		keyName := map[string]string{"tasks": "task_key", "job_clusters": "job_cluster_key"}[field]
		if keyName == "" {
			return nil, invalidParam("Cannot remove nested field %s.", f)
		}
		list, _ := cur[field].([]any)
		kept := list[:0]
		for _, e := range list {
			if m, _ := e.(map[string]any); m[keyName] != key {
				kept = append(kept, e)
			}
		}
		cur[field] = kept
	}
	var js jobs.JobSettings
	if err := convert(cur, &js); err != nil {
		return nil, invalidParam("merged settings: %v", err)
	}
	if err := validateSettings(&js); err != nil {
		return nil, err
	}
	normalizeSettings(&js)
	job.Settings = &js
	return nil, nil
}

func mergeByKey(cur, upd any, key string) any {
	oldList, _ := cur.([]any)
	newList, _ := upd.([]any)
	out := append([]any(nil), oldList...)
	for _, n := range newList {
		nm, _ := n.(map[string]any)
		replaced := false
		for i, o := range out {
			if om, _ := o.(map[string]any); om[key] == nm[key] {
				out[i], replaced = n, true
				break
			}
		}
		if !replaced {
			out = append(out, n)
		}
	}
	return out
}

func (s *Server) jobsDelete(r *http.Request) (any, *apiError) {
	var req jobs.DeleteJob
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if _, ok := s.st.Jobs[req.JobId]; !ok {
		return nil, jobMissing(req.JobId)
	}
	delete(s.st.Jobs, req.JobId)
	return nil, nil
}

func (s *Server) jobsGet(r *http.Request) (any, *apiError) {
	var req jobs.GetJobRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	job, ok := s.st.Jobs[req.JobId]
	if !ok {
		return nil, jobMissing(req.JobId)
	}
	return job, nil
}

func (s *Server) jobsList(r *http.Request) (any, *apiError) {
	var req jobs.ListJobsRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	limit := req.Limit
	if limit == 0 {
		limit = 20
	}
	if limit < 0 || limit > 100 {
		return nil, invalidParam("limit must be between 1 and 100, got %d.", req.Limit)
	}
	offset, aerr := core.PageToken(req.PageToken)
	if aerr != nil {
		return nil, aerr
	}
	if req.PageToken == "" {
		offset = req.Offset
	}
	var matched []*jobs.Job
	for _, j := range s.st.Jobs {
		if req.Name == "" || strings.EqualFold(j.Settings.Name, req.Name) {
			matched = append(matched, j)
		}
	}
	// Newest first, like the service.
	sort.Slice(matched, func(i, k int) bool { return matched[i].JobId > matched[k].JobId })
	from, to, next := core.Page(len(matched), offset, limit)
	resp := jobs.ListJobsResponse{NextPageToken: next, HasMore: next != ""}
	for _, j := range matched[from:to] {
		var base jobs.BaseJob
		if err := convert(j, &base); err != nil {
			return nil, newError(http.StatusInternalServerError, codeInternal, "job %d: %v", j.JobId, err)
		}
		if !req.ExpandTasks && base.Settings != nil {
			base.Settings.Tasks, base.Settings.JobClusters = nil, nil
		}
		resp.Jobs = append(resp.Jobs, base)
	}
	if offset > 0 {
		resp.PrevPageToken = "o" + strconv.Itoa(max(0, offset-limit))
	}
	return resp, nil
}

func (s *Server) jobsRunNow(r *http.Request) (any, *apiError) {
	var req jobs.RunNow
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if len(req.IdempotencyToken) > 64 {
		return nil, invalidParam("idempotency_token must be at most 64 characters.")
	}
	now := s.now()
	if req.IdempotencyToken != "" {
		if id, ok := s.st.Idempotency[req.IdempotencyToken]; ok {
			if _, exists := s.st.Runs[id]; !exists {
				return nil, invalidParam("The run started with idempotency token %s was deleted.", req.IdempotencyToken)
			}
			return jobs.RunNowResponse{RunId: id, NumberInJob: id}, nil
		}
	}
	job, ok := s.st.Jobs[req.JobId]
	if !ok {
		return nil, jobMissing(req.JobId)
	}
	params := map[string]string{}
	for _, p := range job.Settings.Parameters {
		params[p.Name] = p.Default
	}
	for k, v := range req.JobParameters {
		if _, defined := params[k]; !defined {
			return nil, invalidParam("Job parameter %s is not defined for job %d.", k, job.JobId)
		}
		params[k] = v
	}

	run := &runRec{
		RunID: s.st.nextID(), JobID: job.JobId, RunName: job.Settings.Name,
		Settings: *job.Settings, Params: params, Created: now, Creator: s.user,
	}
	reqCopy := req
	run.Overrides = &reqCopy
	name := job.Settings.Name
	if q := s.st.RunScripts[name]; len(q) > 0 {
		run.Outcome, s.st.RunScripts[name] = q[0], q[1:]
		if len(s.st.RunScripts[name]) == 0 {
			delete(s.st.RunScripts, name)
		}
	}
	if run.Outcome.Result == "" {
		run.Outcome.Result = jobs.RunResultStateSuccess
	}

	// Concurrency: skip, or queue behind the active runs when queueing is on.
	startFrom := now
	var active []*runRec
	for _, other := range s.st.Runs {
		if other.JobID == job.JobId && other.Skipped == "" && !s.terminated(other, now) {
			active = append(active, other)
		}
	}
	if len(active) >= job.Settings.MaxConcurrentRuns {
		// Jobs API 2.2 queues by default; only queue.enabled=false skips.
		if job.Settings.Queue != nil && !job.Settings.Queue.Enabled {
			run.Skipped = fmt.Sprintf("Skipping this run because the limit of %d maximum concurrent runs has been reached.", job.Settings.MaxConcurrentRuns)
		}
		for _, a := range active {
			if a.EndAt.After(startFrom) {
				startFrom = a.EndAt
			}
		}
	}
	runFor := run.Outcome.Duration
	if runFor <= 0 {
		runFor = s.dur.RunDuration
	}
	run.StartAt = startFrom.Add(time.Duration(float64(s.dur.RunPending) * s.scale))
	run.EndAt = run.StartAt.Add(time.Duration(float64(runFor) * s.scale))

	trainer := ""
	for _, t := range job.Settings.Tasks {
		if !t.Disabled && trains(t) {
			trainer = t.TaskKey
			break
		}
	}
	for _, t := range job.Settings.Tasks {
		if t.Disabled {
			continue
		}
		tr := &taskRec{TaskKey: t.TaskKey, RunID: s.st.nextID(), Trains: t.TaskKey == trainer, Promotes: t.TaskKey != trainer && promotes(t)}
		run.Tasks = append(run.Tasks, tr)
		s.st.TaskRuns[tr.RunID] = run.RunID
	}
	s.st.Runs[run.RunID] = run
	if req.IdempotencyToken != "" {
		s.st.Idempotency[req.IdempotencyToken] = run.RunID
	}
	if run.Skipped != "" {
		run.Finished = true
	}
	return jobs.RunNowResponse{RunId: run.RunID, NumberInJob: run.RunID}, nil
}

// terminated reports whether a run has ended by now.
func (s *Server) terminated(run *runRec, now time.Time) bool {
	return run.Skipped != "" || !run.CanceledAt.IsZero() || !now.Before(run.EndAt)
}

// phase is a run's life-cycle state at now.
func (s *Server) phase(run *runRec, now time.Time) jobs.RunLifeCycleState {
	switch {
	case run.Skipped != "":
		return jobs.RunLifeCycleStateSkipped
	case s.terminated(run, now):
		return jobs.RunLifeCycleStateTerminated
	case now.Before(run.StartAt.Add(-time.Duration(float64(s.dur.RunPending) * s.scale))):
		return jobs.RunLifeCycleStateQueued
	case now.Before(run.StartAt):
		return jobs.RunLifeCycleStatePending
	default:
		return jobs.RunLifeCycleStateRunning
	}
}

// advanceRun applies the side effects a run's progress has on the workspace
// (the MLflow run and model of a training task). Call with s.mu held.
func (s *Server) advanceRun(run *runRec, now time.Time) {
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
func (s *Server) finishRun(run *runRec) {
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

func (s *Server) defaultFailTask(run *runRec) string {
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
func (s *Server) taskOutput(run *runRec, t *taskRec, report map[string]any) *jobs.RunOutput {
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
func (s *Server) renderRun(run *runRec, now time.Time) jobs.Run {
	lc := s.phase(run, now)
	out := jobs.Run{
		RunId: run.RunID, JobId: run.JobID, JobRunId: run.RunID, NumberInJob: run.RunID,
		OriginalAttemptRunId: run.RunID, RunName: run.RunName, CreatorUserName: run.Creator,
		RunType: jobs.RunTypeJobRun, Trigger: jobs.TriggerTypeOneTime,
		StartTime:  ms(run.Created),
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
		out.EndTime = ms(run.Created)
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
		out.EndTime = ms(end)
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

func (s *Server) renderTask(run *runRec, t *taskRec, lc jobs.RunLifeCycleState, now, end time.Time) jobs.RunTask {
	rt := jobs.RunTask{RunId: t.RunID, TaskKey: t.TaskKey, StartTime: ms(run.Created),
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
		rt.EndTime = ms(end)
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

func (s *Server) runsGet(r *http.Request) (any, *apiError) {
	var req jobs.GetRunRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	now := s.now()
	run, ok := s.st.Runs[req.RunId]
	if !ok {
		return nil, runMissing(req.RunId)
	}
	return s.renderRun(run, now), nil
}

func (s *Server) runsGetOutput(r *http.Request) (any, *apiError) {
	var req jobs.GetRunOutputRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	now := s.now()
	parentID, isTask := s.st.TaskRuns[req.RunId]
	if !isTask {
		parentID = req.RunId
	}
	run, ok := s.st.Runs[parentID]
	if !ok {
		return nil, runMissing(req.RunId)
	}
	var task *taskRec
	switch {
	case isTask:
		for _, t := range run.Tasks {
			if t.RunID == req.RunId {
				task = t
			}
		}
	case len(run.Tasks) == 1:
		task = run.Tasks[0]
	default:
		return nil, invalidParam("Retrieving the output of runs with multiple tasks is not supported. Please retrieve the output of each individual task run instead.")
	}
	rendered := s.renderRun(run, now)
	out := jobs.RunOutput{Metadata: &rendered}
	if task != nil {
		for _, rt := range rendered.Tasks {
			if rt.RunId == task.RunID {
				meta := rendered
				meta.RunId, meta.Tasks, meta.State, meta.Status = rt.RunId, nil, rt.State, rt.Status
				out.Metadata = &meta
			}
		}
		if task.Output != nil {
			out.Logs, out.NotebookOutput = task.Output.Logs, task.Output.NotebookOutput
			out.Error, out.ErrorTrace = task.Output.Error, task.Output.ErrorTrace
		}
	}
	return out, nil
}

func (s *Server) runsList(r *http.Request) (any, *apiError) {
	var req jobs.ListRunsRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	if req.ActiveOnly && req.CompletedOnly {
		return nil, invalidParam("active_only and completed_only cannot both be true.")
	}
	limit := req.Limit
	if limit == 0 {
		limit = 20
	}
	if limit < 0 || limit > 25 {
		return nil, invalidParam("limit must be between 1 and 25, got %d.", req.Limit)
	}
	offset, aerr := core.PageToken(req.PageToken)
	if aerr != nil {
		return nil, aerr
	}
	now := s.now()
	var matched []*runRec
	for _, run := range s.st.Runs {
		if req.JobId != 0 && run.JobID != req.JobId {
			continue
		}
		done := s.terminated(run, now)
		if (req.ActiveOnly && done) || (req.CompletedOnly && !done) {
			continue
		}
		matched = append(matched, run)
	}
	sort.Slice(matched, func(i, k int) bool { return matched[i].RunID > matched[k].RunID })
	from, to, next := core.Page(len(matched), offset, limit)
	resp := jobs.ListRunsResponse{NextPageToken: next, HasMore: next != ""}
	for _, run := range matched[from:to] {
		var base jobs.BaseRun
		if err := convert(s.renderRun(run, now), &base); err != nil {
			return nil, newError(http.StatusInternalServerError, codeInternal, "run %d: %v", run.RunID, err)
		}
		if !req.ExpandTasks {
			base.Tasks = nil
		}
		resp.Runs = append(resp.Runs, base)
	}
	return resp, nil
}

func (s *Server) runsCancel(r *http.Request) (any, *apiError) {
	var req jobs.CancelRun
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	now := s.now()
	run, ok := s.st.Runs[req.RunId]
	if !ok {
		return nil, runMissing(req.RunId)
	}
	if !s.terminated(run, now) {
		run.CanceledAt = now
		s.advanceRun(run, now)
	}
	return nil, nil
}
