package jobs

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/jobs"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// Routes are the Jobs API 2.2 routes databricks-sdk-go calls. Answers
// point into the store's state: they are encoded under its lock, after the
// runs move to now.
func (s *Store) Routes() []core.Route {
	const api = "/api/2.2/jobs"
	routes := []core.Route{
		{Pattern: "POST " + api + "/create", Op: "jobs.create", Mutating: true, Handle: s.jobsCreate},
		{Pattern: "POST " + api + "/reset", Op: "jobs.reset", Mutating: true, Handle: s.jobsReset},
		{Pattern: "POST " + api + "/update", Op: "jobs.update", Mutating: true, Handle: s.jobsUpdate},
		{Pattern: "POST " + api + "/delete", Op: "jobs.delete", Mutating: true, Handle: s.jobsDelete},
		{Pattern: "GET " + api + "/get", Op: "jobs.get", Handle: s.jobsGet},
		{Pattern: "GET " + api + "/list", Op: "jobs.list", Handle: s.jobsList},
		{Pattern: "POST " + api + "/run-now", Op: "jobs.run-now", Mutating: true, Handle: s.jobsRunNow},
		{Pattern: "GET " + api + "/runs/get", Op: "jobs.runs.get", Handle: s.runsGet},
		{Pattern: "GET " + api + "/runs/get-output", Op: "jobs.runs.get-output", Handle: s.runsGetOutput},
		{Pattern: "GET " + api + "/runs/list", Op: "jobs.runs.list", Handle: s.runsList},
		{Pattern: "POST " + api + "/runs/cancel", Op: "jobs.runs.cancel", Mutating: true, Handle: s.runsCancel},
	}
	settle := func() { s.advance(s.clock.Now()) }
	for i := range routes {
		routes[i].Handle = core.Guarded(&s.mu, settle, routes[i].Handle)
	}
	return routes
}

// A missing job or run is 400 INVALID_PARAMETER_VALUE on every jobs call;
// the SDK remaps it to ErrResourceDoesNotExist for jobs/get and runs/get
// only (apierr's error overrides), as for the service.
func jobMissing(id int64) *core.Error { return core.InvalidParam("Job %d does not exist.", id) }
func runMissing(id int64) *core.Error { return core.InvalidParam("Run %d does not exist.", id) }

// validateSettings checks what the service checks about tasks.
func validateSettings(js *jobs.JobSettings) *core.Error {
	keys := map[string]bool{}
	for i, t := range js.Tasks {
		if t.TaskKey == "" {
			return core.InvalidParam("tasks[%d].task_key is required.", i)
		}
		if keys[t.TaskKey] {
			return core.InvalidParam("Task key %s is used more than once.", t.TaskKey)
		}
		keys[t.TaskKey] = true
	}
	for _, t := range js.Tasks {
		for _, d := range t.DependsOn {
			if !keys[d.TaskKey] {
				return core.InvalidParam("Task %s depends on %s, which does not exist.", t.TaskKey, d.TaskKey)
			}
		}
	}
	if js.MaxConcurrentRuns < 0 || js.MaxConcurrentRuns > 1000 {
		return core.InvalidParam("max_concurrent_runs must be between 0 and 1000.")
	}
	return nil
}

func normalizeSettings(js *jobs.JobSettings) {
	if js.Name == "" {
		js.Name = "Untitled"
	}
	if js.MaxConcurrentRuns == 0 && !slices.Contains(js.ForceSendFields, "MaxConcurrentRuns") {
		js.MaxConcurrentRuns = 1
	}
	js.Format = jobs.FormatMultiTask
}

func (s *Store) jobsCreate(r *http.Request) (any, *core.Error) {
	var req jobs.CreateJob
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	var js jobs.JobSettings
	if err := core.Convert(req, &js); err != nil {
		return nil, core.InvalidParam("job settings: %v", err)
	}
	if err := validateSettings(&js); err != nil {
		return nil, err
	}
	normalizeSettings(&js)
	id := s.ids.Next()
	s.st.Jobs[id] = &jobs.Job{
		JobId: id, CreatorUserName: s.user, RunAsUserName: s.user,
		CreatedTime: s.clock.Now().UnixMilli(), Settings: &js,
	}
	return jobs.CreateResponse{JobId: id}, nil
}

func (s *Store) jobsReset(r *http.Request) (any, *core.Error) {
	var req jobs.ResetJob
	if err := core.DecodeBody(r, &req); err != nil {
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
func (s *Store) jobsUpdate(r *http.Request) (any, *core.Error) {
	var req jobs.UpdateJob
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	job, ok := s.st.Jobs[req.JobId]
	if !ok {
		return nil, jobMissing(req.JobId)
	}
	var cur, upd map[string]any
	if err := core.Convert(job.Settings, &cur); err != nil {
		return nil, core.InvalidParam("job settings: %v", err)
	}
	if req.NewSettings != nil {
		if err := core.Convert(req.NewSettings, &upd); err != nil {
			return nil, core.InvalidParam("new_settings: %v", err)
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
			return nil, core.InvalidParam("Cannot remove nested field %s.", f)
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
	if err := core.Convert(cur, &js); err != nil {
		return nil, core.InvalidParam("merged settings: %v", err)
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

func (s *Store) jobsDelete(r *http.Request) (any, *core.Error) {
	var req jobs.DeleteJob
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	if _, ok := s.st.Jobs[req.JobId]; !ok {
		return nil, jobMissing(req.JobId)
	}
	delete(s.st.Jobs, req.JobId)
	return nil, nil
}

func (s *Store) jobsGet(r *http.Request) (any, *core.Error) {
	var req jobs.GetJobRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	job, ok := s.st.Jobs[req.JobId]
	if !ok {
		return nil, jobMissing(req.JobId)
	}
	return job, nil
}

func (s *Store) jobsList(r *http.Request) (any, *core.Error) {
	var req jobs.ListJobsRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	limit := req.Limit
	if limit == 0 {
		limit = 20
	}
	if limit < 0 || limit > 100 {
		return nil, core.InvalidParam("limit must be between 1 and 100, got %d.", req.Limit)
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
		if err := core.Convert(j, &base); err != nil {
			return nil, internal("job %d: %v", j.JobId, err)
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

func (s *Store) jobsRunNow(r *http.Request) (any, *core.Error) {
	var req jobs.RunNow
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	if len(req.IdempotencyToken) > 64 {
		return nil, core.InvalidParam("idempotency_token must be at most 64 characters.")
	}
	now := s.clock.Now()
	if req.IdempotencyToken != "" {
		if id, ok := s.st.Idempotency[req.IdempotencyToken]; ok {
			if _, exists := s.st.Runs[id]; !exists {
				return nil, core.InvalidParam("The run started with idempotency token %s was deleted.", req.IdempotencyToken)
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
			return nil, core.InvalidParam("Job parameter %s is not defined for job %d.", k, job.JobId)
		}
		params[k] = v
	}

	run := &runRec{
		RunID: s.ids.Next(), JobID: job.JobId, RunName: job.Settings.Name,
		Settings: *job.Settings, Params: params, Created: now, Creator: s.user,
	}
	reqCopy := req
	run.Overrides = &reqCopy
	name := job.Settings.Name
	if q := s.st.Scripts[name]; len(q) > 0 {
		run.Outcome, s.st.Scripts[name] = q[0], q[1:]
		if len(s.st.Scripts[name]) == 0 {
			delete(s.st.Scripts, name)
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
		runFor = s.runFor
	}
	run.StartAt = startFrom.Add(core.Scaled(s.pending, s.scale))
	run.EndAt = run.StartAt.Add(core.Scaled(runFor, s.scale))

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
		tr := &taskRec{TaskKey: t.TaskKey, RunID: s.ids.Next(), Trains: t.TaskKey == trainer, Promotes: t.TaskKey != trainer && promotes(t)}
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

func (s *Store) runsGet(r *http.Request) (any, *core.Error) {
	var req jobs.GetRunRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	run, ok := s.st.Runs[req.RunId]
	if !ok {
		return nil, runMissing(req.RunId)
	}
	return s.renderRun(run, now), nil
}

func (s *Store) runsGetOutput(r *http.Request) (any, *core.Error) {
	var req jobs.GetRunOutputRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	now := s.clock.Now()
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
		return nil, core.InvalidParam("Retrieving the output of runs with multiple tasks is not supported. Please retrieve the output of each individual task run instead.")
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

func (s *Store) runsList(r *http.Request) (any, *core.Error) {
	var req jobs.ListRunsRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	if req.ActiveOnly && req.CompletedOnly {
		return nil, core.InvalidParam("active_only and completed_only cannot both be true.")
	}
	limit := req.Limit
	if limit == 0 {
		limit = 20
	}
	if limit < 0 || limit > 25 {
		return nil, core.InvalidParam("limit must be between 1 and 25, got %d.", req.Limit)
	}
	offset, aerr := core.PageToken(req.PageToken)
	if aerr != nil {
		return nil, aerr
	}
	now := s.clock.Now()
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
		if err := core.Convert(s.renderRun(run, now), &base); err != nil {
			return nil, internal("run %d: %v", run.RunID, err)
		}
		if !req.ExpandTasks {
			base.Tasks = nil
		}
		resp.Runs = append(resp.Runs, base)
	}
	return resp, nil
}

func (s *Store) runsCancel(r *http.Request) (any, *core.Error) {
	var req jobs.CancelRun
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	now := s.clock.Now()
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
