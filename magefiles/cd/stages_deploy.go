package cd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// Tag keys the deploy attaches to jobs, model versions and endpoints.
const (
	TagRelease       = "release"
	TagGitSHA        = "git_sha"
	TagTarget        = "target"
	TagJobRunID      = "job_run_id"
	TagSourceEnv     = "source_env"
	TagSourceModel   = "source_model"
	TagSourceVersion = "source_version"
	TagSourceRecord  = "source_record"
	// TagRoute marks a version trained on the train route (RouteTrain).
	TagRoute = "promotion_route"
)

// ModelArtifactPath is where the training job logs the model in its MLflow
// run (train.py's log_model).
const ModelArtifactPath = "agent"

// Tags are the release facts attached to everything a deploy creates.
func (s *State) Tags() map[string]string {
	return map[string]string{TagRelease: s.Release.Tag, TagGitSHA: s.Release.SHA, TagTarget: s.Env}
}

// jobParameters are the values for the release parameters a job may
// declare; only declared ones are sent.
func (s *State) jobParameters() map[string]string {
	return map[string]string{"git_sha": s.Release.SHA, "release_tag": s.Release.Tag, "release": s.Release.Tag, "target": s.Env}
}

// BundleDeploy deploys the bundle target: files, jobs, model, endpoint.
type BundleDeploy struct{}

// Name implements Stage.
func (BundleDeploy) Name() string { return "bundle" }

// Run implements Stage.
func (BundleDeploy) Run(ctx context.Context, s *State) error {
	if err := s.selectEngine(); err != nil {
		return err
	}
	engine := s.Engine
	s.Printf("   engine %s\n", engine.Name())
	res, err := engine.Deploy(ctx, s.Client, s.deployRequest())
	if res != nil {
		s.Deployment = res
	}
	if s.Record != nil {
		s.Record.Engine = engine.Name()
	}
	if err != nil {
		return err
	}
	for _, c := range res.Removed() {
		s.Printf("   warning: %s\n", c)
	}
	s.Printf("   files: %d uploaded, %d unchanged, %d deleted\n", res.Files.Uploaded, res.Files.Unchanged, res.Files.Deleted)
	return nil
}

func (s *State) deployRequest() workspace.DeployRequest {
	ws := s.Config.Bundle.Workspace
	return workspace.DeployRequest{
		Target: s.Config.Target.Name, BundleRoot: s.Root,
		RootPath: ws.RootPath, FilePath: ws.FilePath, StatePath: ws.StatePath,
		SyncPaths: []string{"src"}, Resources: s.Config.Resources(),
		Tags: s.Tags(), JobParameters: s.jobParameters(), Out: s.Out,
	}
}

// attachJobRuns lists the job runs a record's stages started that ended
// (JobAttempt), so a retry after a failed run gets a new idempotency token
// while a resumed kill, which recorded nothing, reuses the old one and finds
// its run again.
const attachJobRuns = "job_runs"

// JobAttempt is one ended run of a job a stage started: which run, how it
// ended, and which earlier failed run it retried.
type JobAttempt struct {
	Step    string `json:"step"`
	RunID   int64  `json:"run_id"`
	State   string `json:"state"`
	URL     string `json:"url,omitempty"`
	RetryOf int64  `json:"retry_of,omitempty"`
}

// JobAttempts are the record's ended job runs, oldest first.
func (s *State) JobAttempts() []JobAttempt {
	var out []JobAttempt
	if s.Record != nil {
		_, _ = s.Record.Attachment(attachJobRuns, &out)
	}
	return out
}

// runJobAttempt runs a job for step as runJob does, keyed by the step and
// the number of its runs that failed before: a failed run is retried by a
// new run on the next deploy, and the record keeps both.
func (s *State) runJobAttempt(ctx context.Context, what, key, name, step string, extra ...map[string]string) (int64, *jobs.Run, error) {
	attempts := s.JobAttempts()
	var failed []JobAttempt
	for _, a := range attempts {
		if a.Step == step && a.State != string(jobs.RunResultStateSuccess) {
			failed = append(failed, a)
		}
	}
	var retryOf int64
	if n := len(failed); n > 0 {
		last := failed[n-1]
		retryOf = last.RunID
		s.Printf("   %s run %d ended %s before (%s): starting a new run\n", what, last.RunID, last.State, last.URL)
	}
	jobID, run, err := s.runJob(ctx, what, key, name, fmt.Sprintf("%s#%d", step, len(failed)), extra...)
	var rf *RunFailedError
	switch {
	case err == nil:
		attempts = append(attempts, JobAttempt{Step: step, RunID: run.RunId, State: string(jobs.RunResultStateSuccess), URL: run.RunPageUrl, RetryOf: retryOf})
	case errors.As(err, &rf):
		attempts = append(attempts, JobAttempt{Step: step, RunID: rf.RunID, State: rf.State, URL: rf.URL, RetryOf: retryOf})
	default:
		return jobID, run, err // not ended (a timeout, a kill): the next deploy resumes the same run
	}
	if s.Record != nil {
		if aerr := s.Record.Attach(attachJobRuns, attempts); aerr != nil {
			return jobID, run, aerr
		}
	}
	return jobID, run, err
}

// Training is what the training run produced.
type Training struct {
	JobID       int64
	RunID       int64
	RunURL      string
	MLflowRunID string
	// ReportedModel/ReportedVersion: the version train.py registered, if any.
	ReportedModel, ReportedVersion string
}

// Train runs the training job with the release as job parameters and
// waits for it. A run that ends other than SUCCESS is an error with its
// state message and URL: the SDK's waiter is satisfied by TERMINATED, so
// the result state is checked here.
type Train struct{}

// Name implements Stage.
func (Train) Name() string { return "train" }

// Run implements Stage.
func (Train) Run(ctx context.Context, s *State) error {
	cfg := s.Config
	if !s.trainedHere() {
		return s.skipCopied()
	}
	if s.resumedOK("train") && s.Record.Model != nil && s.Record.Model.RunID != "" {
		m := s.Record.Model
		s.Training = &Training{RunID: m.JobRunID, RunURL: m.JobRunURL, MLflowRunID: m.RunID, ReportedModel: m.Name, ReportedVersion: m.Version}
		return Skip("trained before the interruption: run %d (MLflow run %s)", m.JobRunID, m.RunID)
	}
	if s.Config.UC() {
		if done, err := s.releasedBefore(ctx); done || err != nil {
			return err
		}
	}
	if s.Source != nil {
		mv, err := s.trainedBefore(ctx)
		if err != nil {
			return err
		}
		if mv != nil {
			s.Version = mv
			s.Record.Model = s.lineage(&release.ModelVersionRef{Name: cfg.Model, Version: mv.Version, RunID: mv.RunId, JobRunID: jobRunOf(mv)})
			return Skip("%s v%s was trained in %s for %s at %s before: served again", cfg.Model, mv.Version, s.Env, s.Release.Tag, release.ShortSHA(s.Release.SHA))
		}
	}
	// The token makes a re-run after a crash find the same run instead of
	// starting a second one; a failed run counts, so a retry starts anew.
	jobID, run, err := s.runJobAttempt(ctx, "training", cfg.TrainingJobKey, cfg.TrainingJob, "train")
	if err != nil {
		return err
	}
	tr, err := s.trainingOutput(ctx, jobID, run)
	if err != nil {
		return err
	}
	s.Training = tr
	s.Record.Model = s.lineage(&release.ModelVersionRef{Name: cfg.Model, RunID: tr.MLflowRunID, JobRunID: tr.RunID, JobRunURL: tr.RunURL})
	s.Printf("   run %d succeeded: MLflow run %s\n", tr.RunID, tr.MLflowRunID)
	return nil
}

func formatParams(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + p[k]
	}
	return strings.Join(parts, " ")
}

func (s *State) idempotencyToken(step string) string {
	id := ""
	if s.Record != nil {
		id = s.Record.ID
	}
	sum := sha256.Sum256([]byte(s.Env + "|" + s.Release.Tag + "|" + id + "|" + step))
	return hex.EncodeToString(sum[:16])
}

// runJob runs a job of the bundle (by resource key, found by name when this
// run did not deploy it) with the release as its declared job parameters,
// waits for it with progress, and checks the result: a run that ends other
// than SUCCESS is a *RunFailedError with its state message, URL and the
// failing task's error. The SDK's waiter is satisfied by TERMINATED, so the
// result state is checked here. step keys the idempotency token.
func (s *State) runJob(ctx context.Context, what, key, name, step string, extra ...map[string]string) (int64, *jobs.Run, error) {
	jobID := int64(0)
	if s.Deployment != nil {
		jobID = s.Deployment.JobIDs[key]
	}
	if jobID == 0 {
		id, err := workspace.FindJobByName(ctx, s.Client, name)
		if err != nil {
			return 0, nil, err
		}
		if id == 0 {
			return 0, nil, fmt.Errorf("%s job %q is not in the workspace: the bundle deploy should have created it", what, name)
		}
		jobID = id
	}
	values := s.jobParameters()
	for _, m := range extra {
		for k, v := range m {
			values[k] = v
		}
	}
	params := map[string]string{}
	if j := s.Config.Bundle.Jobs[key]; j != nil {
		for _, p := range j.Settings.Parameters {
			if v, ok := values[p.Name]; ok {
				params[p.Name] = v
			}
		}
	}
	wait, err := s.Client.W.Jobs.RunNow(ctx, jobs.RunNow{JobId: jobID, JobParameters: params, IdempotencyToken: s.idempotencyToken(step)})
	if err != nil {
		return jobID, nil, fmt.Errorf("start %s job %s (%d): %w", what, name, jobID, err)
	}
	s.Printf("   run %d of job %s with %s\n", wait.RunId, name, formatParams(params))
	p := s.StartWait(fmt.Sprintf("%s run %d", what, wait.RunId))
	var last *jobs.Run
	run, err := wait.OnProgress(func(r *jobs.Run) {
		last = r
		p.Seen(RunState(r))
	}).GetWithTimeout(s.Opts.Timeouts.Training)
	p.Done()
	if err != nil {
		url := ""
		if last != nil {
			url = " (" + last.RunPageUrl + ")"
		}
		return jobID, nil, fmt.Errorf("%s run %d%s: %w", what, wait.RunId, url, err)
	}
	if err := checkRun(run, what); err != nil {
		return jobID, run, s.explainRun(ctx, run, err)
	}
	return jobID, run, nil
}

// RunFailedError is a job run (training, promotion) that did not succeed.
type RunFailedError struct {
	What    string // training, promotion
	RunID   int64
	State   string // FAILED, CANCELED, TIMEDOUT, SKIPPED ...
	Message string
	URL     string
}

func (e *RunFailedError) Error() string {
	what := e.What
	if what == "" {
		what = "training"
	}
	msg := fmt.Sprintf("%s run %d ended %s", what, e.RunID, e.State)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.URL != "" {
		msg += "; see " + e.URL
	}
	return msg
}

// checkRun turns a terminated run that did not succeed into an error.
func checkRun(run *jobs.Run, what string) error {
	st := run.State
	fail := &RunFailedError{What: what, RunID: run.RunId, URL: run.RunPageUrl}
	switch {
	case st == nil:
		fail.State, fail.Message = "UNKNOWN", "the run has no state"
	case st.LifeCycleState == jobs.RunLifeCycleStateSkipped:
		fail.State, fail.Message = "SKIPPED", st.StateMessage
		if terminationCode(run) == jobs.TerminationCodeCodeMaxConcurrentRunsExceeded {
			fail.Message = "the job's max_concurrent_runs was reached and its queue is disabled (MAX_CONCURRENT_RUNS_EXCEEDED); enable queue or raise max_concurrent_runs"
		}
	case st.ResultState == jobs.RunResultStateSuccess:
		return nil
	default:
		fail.State, fail.Message = string(st.ResultState), st.StateMessage
		if fail.State == "" {
			fail.State = string(st.LifeCycleState)
		}
	}
	return fail
}

// terminationCode is the run's termination code (Jobs API 2.2 status), or
// "" when the service sent none.
func terminationCode(run *jobs.Run) jobs.TerminationCodeCode {
	if run.Status == nil || run.Status.TerminationDetails == nil {
		return ""
	}
	return run.Status.TerminationDetails.Code
}

// explainRun adds the failing task's error output to a run failure.
func (s *State) explainRun(ctx context.Context, run *jobs.Run, err error) error {
	var rf *RunFailedError
	if !errors.As(err, &rf) {
		return err
	}
	for _, t := range run.Tasks {
		if t.State == nil || t.State.ResultState == jobs.RunResultStateSuccess {
			continue
		}
		out, oerr := s.Client.W.Jobs.GetRunOutput(ctx, jobs.GetRunOutputRequest{RunId: t.RunId})
		if oerr == nil && out.Error != "" {
			rf.Message = strings.TrimSuffix(rf.Message, ".") + "; task " + t.TaskKey + ": " + firstLine(out.Error)
			break
		}
	}
	return rf
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// trainingOutput reads the training task's report: train.py prints a JSON
// object as its last line (a notebook task returns it as its exit value),
// with the MLflow run id and the version it registered.
func (s *State) trainingOutput(ctx context.Context, jobID int64, run *jobs.Run) (*Training, error) {
	tr := &Training{JobID: jobID, RunID: run.RunId, RunURL: run.RunPageUrl}
	taskRun := run.RunId
	for _, t := range run.Tasks {
		if strings.Contains(strings.ToLower(t.TaskKey), "train") || len(run.Tasks) == 1 {
			taskRun = t.RunId
		}
	}
	out, err := s.Client.W.Jobs.GetRunOutput(ctx, jobs.GetRunOutputRequest{RunId: taskRun})
	if err != nil {
		return nil, fmt.Errorf("training run %d: read the output of task run %d: %w", run.RunId, taskRun, err)
	}
	text := out.Logs
	if out.NotebookOutput != nil && out.NotebookOutput.Result != "" {
		text = out.NotebookOutput.Result
	}
	report, err := lastJSONLine(text)
	if err != nil {
		return nil, fmt.Errorf("training run %d (%s): %w", run.RunId, run.RunPageUrl, err)
	}
	tr.MLflowRunID, _ = report["run_id"].(string)
	tr.ReportedModel, _ = report["model_name"].(string)
	switch v := report["model_version"].(type) {
	case string:
		tr.ReportedVersion = v
	case float64:
		tr.ReportedVersion = strconv.FormatFloat(v, 'f', -1, 64)
	}
	if tr.MLflowRunID == "" {
		return nil, fmt.Errorf("training run %d (%s) logged no model: its report has no run_id (was it a --dry-run, or is mlflow missing on the cluster?)", run.RunId, run.RunPageUrl)
	}
	return tr, nil
}

func lastJSONLine(text string) (map[string]any, error) {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err == nil {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no JSON report in the task's output (train.py prints one as its last line)")
}

// Register makes the trained model a READY version of the environment's
// model, tagged with the release: the version train.py registered, or one
// registered here from the MLflow run.
type Register struct{}

// Name implements Stage.
func (Register) Name() string { return "register" }

// Run implements Stage.
func (Register) Run(ctx context.Context, s *State) error {
	tr, cfg := s.Training, s.Config
	if !s.trainedHere() {
		return s.skipCopied()
	}
	if tr == nil && s.Version != nil {
		return Skip("%s v%s registered before", s.Version.Name, s.Version.Version)
	}
	if tr == nil {
		return fmt.Errorf("no training run to register")
	}
	if cfg.UC() {
		return s.registerUC(ctx, tr)
	}
	reg := s.Client.W.ModelRegistry
	tags := s.Tags()
	tags[TagJobRunID] = strconv.FormatInt(tr.RunID, 10)
	if s.Source != nil {
		tags[TagSourceEnv], tags[TagSourceRecord], tags[TagRoute] = s.Source.Env, s.Source.ID, RouteTrain
	}

	var mv *ml.ModelVersion
	how := "registered by the training run"
	if tr.ReportedVersion != "" && tr.ReportedModel == cfg.Model {
		var err error
		mv, err = s.WaitVersionReady(ctx, cfg.Model, tr.ReportedVersion)
		var rf *RegistrationFailedError
		switch {
		case errors.As(err, &rf):
			// The run's own registration died: register the run again below.
			s.Printf("   %v; registering the MLflow run again\n", err)
			mv = nil
		case err != nil:
			return err
		}
	}
	if mv == nil {
		version := ""
		found, err := findVersion(ctx, s, cfg.Model, func(mv ml.ModelVersion) bool { return mv.RunId == tr.MLflowRunID && usable(mv) })
		if err != nil {
			return err
		}
		if found != nil {
			version, how = found.Version, "found from an earlier attempt"
		} else {
			resp, err := reg.CreateModelVersion(ctx, ml.CreateModelVersionRequest{
				Name: cfg.Model, Source: "runs:/" + tr.MLflowRunID + "/" + ModelArtifactPath, RunId: tr.MLflowRunID,
				Description: fmt.Sprintf("%s (%s), training run %d", s.Release.Tag, release.ShortSHA(s.Release.SHA), tr.RunID),
				Tags:        versionTags(tags),
			})
			if err != nil {
				return fmt.Errorf("register MLflow run %s as a version of %s: %w", tr.MLflowRunID, cfg.Model, err)
			}
			version, how = resp.ModelVersion.Version, "registered from the MLflow run"
		}
		if mv, err = s.WaitVersionReady(ctx, cfg.Model, version); err != nil {
			return err
		}
	}
	if err := setVersionTags(ctx, s, mv, tags); err != nil {
		return err
	}
	s.Version = mv
	s.Record.Model = s.lineage(&release.ModelVersionRef{Name: cfg.Model, Version: mv.Version, RunID: tr.MLflowRunID, JobRunID: tr.RunID, JobRunURL: tr.RunURL})
	s.Printf("   %s v%s READY (%s)\n", cfg.Model, mv.Version, how)
	return nil
}

func versionTags(m map[string]string) []ml.ModelVersionTag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]ml.ModelVersionTag, 0, len(keys))
	for _, k := range keys {
		out = append(out, ml.ModelVersionTag{Key: k, Value: m[k]})
	}
	return out
}

func tagMap(tags []ml.ModelVersionTag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// setVersionTags sets the tags a version lacks or has with other values.
func setVersionTags(ctx context.Context, s *State, mv *ml.ModelVersion, want map[string]string) error {
	have := tagMap(mv.Tags)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if have[k] == want[k] {
			continue
		}
		err := s.Client.W.ModelRegistry.SetModelVersionTag(ctx, ml.SetModelVersionTagRequest{Name: mv.Name, Version: mv.Version, Key: k, Value: want[k]})
		if err != nil {
			return fmt.Errorf("tag %s v%s with %s: %w", mv.Name, mv.Version, k, err)
		}
		mv.Tags = append(mv.Tags, ml.ModelVersionTag{Key: k, Value: want[k]})
	}
	return nil
}

// findVersion returns the newest version of model that match accepts.
func findVersion(ctx context.Context, s *State, model string, match func(ml.ModelVersion) bool) (*ml.ModelVersion, error) {
	all, err := s.Client.W.ModelRegistry.SearchModelVersionsAll(ctx, ml.SearchModelVersionsRequest{Filter: fmt.Sprintf("name='%s'", strings.ReplaceAll(model, "'", "\\'"))})
	if err != nil {
		return nil, fmt.Errorf("search versions of %s: %w", model, err)
	}
	var best *ml.ModelVersion
	for i := range all {
		if all[i].Name != model || !match(all[i]) {
			continue
		}
		if best == nil || versionNumber(all[i].Version) > versionNumber(best.Version) {
			best = &all[i]
		}
	}
	return best, nil
}

// usable excludes versions whose registration failed: a re-run makes a new
// copy rather than waiting on a dead one.
func usable(mv ml.ModelVersion) bool { return mv.Status != ml.ModelVersionStatusFailedRegistration }

// UnfinishedVersionError is a Unity Catalog version still
// PENDING_REGISTRATION: its upload died before finalize.
type UnfinishedVersionError struct {
	Model, Version string
}

func (e *UnfinishedVersionError) Error() string {
	return fmt.Sprintf("model %s v%s is PENDING_REGISTRATION: the task that registered it died before finalizing it, and nothing else will; deploy again to register a new version", e.Model, e.Version)
}

func versionNumber(v string) int {
	n, _ := strconv.Atoi(v)
	return n
}

// RegistrationFailedError is a model version that ended FAILED_REGISTRATION.
type RegistrationFailedError struct {
	Model, Version, Message string
}

func (e *RegistrationFailedError) Error() string {
	return fmt.Sprintf("model %s v%s failed registration (FAILED_REGISTRATION): %s", e.Model, e.Version, e.Message)
}

// WaitVersionReady polls a workspace registry version until READY (the
// SDK has no waiter for it), backing off like the SDK's waiters. A Unity
// Catalog version is read once: MLflow finalizes it before
// create_model_version returns ("a successful creation will immediately
// place the model version in a READY state", its Unity Catalog store), so
// one still PENDING_REGISTRATION is an upload that died, which nothing will
// finish; waiting on it would only run into the timeout.
func (s *State) WaitVersionReady(ctx context.Context, model, version string) (*ml.ModelVersion, error) {
	if s.Config.UC() {
		return s.readyUC(ctx, model, version)
	}
	p := s.StartWait(fmt.Sprintf("%s v%s", model, version))
	defer p.Done()
	var mv *ml.ModelVersion
	err := s.PollUntil(ctx, s.Opts.Timeouts.Registration, p, func() (string, error) {
		got, err := s.getVersion(ctx, s.Client, model, version)
		if err != nil {
			return "error", fmt.Errorf("read %s v%s: %w", model, version, err)
		}
		mv = got
		switch mv.Status {
		case ml.ModelVersionStatusReady:
			return string(mv.Status), nil
		case ml.ModelVersionStatusFailedRegistration:
			msg := mv.StatusMessage
			if msg == "" && s.Config.UC() {
				msg = s.ucStatusMessage(ctx, model, version)
			}
			return string(mv.Status), &RegistrationFailedError{Model: model, Version: version, Message: msg}
		}
		return string(mv.Status), ErrStillWaiting
	})
	if err != nil {
		return nil, err
	}
	return mv, nil
}

// Promote copies the model version the source environment verified into
// this environment's model, with lineage tags. Re-running finds the copy
// instead of making another.
type Promote struct{}

// Name implements Stage.
func (Promote) Name() string { return "promote" }

// Run implements Stage.
func (Promote) Run(ctx context.Context, s *State) error {
	src, rec, cfg := s.SourceVersion, s.Source, s.Config
	if src == nil || rec == nil {
		return fmt.Errorf("no promotion source (the source stage did not run)")
	}
	if s.Route == RouteTrain {
		return Skip("trained in %s's own workspace instead: %s is another workspace than %s", s.Env, s.Env, rec.Env)
	}
	if cfg.UC() {
		return s.promoteUC(ctx)
	}
	tags := s.Tags()
	tags[TagSourceEnv] = rec.Env
	tags[TagSourceModel] = src.Name
	tags[TagSourceVersion] = src.Version
	tags[TagSourceRecord] = rec.ID
	if v := tagMap(src.Tags)[TagJobRunID]; v != "" {
		tags[TagJobRunID] = v
	}
	found, err := findVersion(ctx, s, cfg.Model, func(mv ml.ModelVersion) bool {
		t := tagMap(mv.Tags)
		return t[TagSourceModel] == src.Name && t[TagSourceVersion] == src.Version && usable(mv)
	})
	if err != nil {
		return err
	}
	version, how := "", ""
	if found != nil {
		version, how = found.Version, "already copied"
	} else {
		req := ml.CreateModelVersionRequest{
			Name: cfg.Model, Source: src.Source, RunId: src.RunId,
			Description: fmt.Sprintf("%s promoted from %s %s v%s", s.Release.Tag, rec.Env, src.Name, src.Version),
			Tags:        versionTags(tags),
		}
		resp, err := s.Client.W.ModelRegistry.CreateModelVersion(ctx, req)
		if errors.Is(err, apierr.ErrNotFound) {
			// The registered model may be missing (an engine that did not
			// create it): create it and try once more.
			if _, gerr := s.Client.W.ModelRegistry.GetModel(ctx, ml.GetModelRequest{Name: cfg.Model}); errors.Is(gerr, apierr.ErrNotFound) {
				if _, cerr := s.Client.W.ModelRegistry.CreateModel(ctx, ml.CreateModelRequest{Name: cfg.Model}); cerr != nil {
					return fmt.Errorf("create model %s: %w", cfg.Model, cerr)
				}
				resp, err = s.Client.W.ModelRegistry.CreateModelVersion(ctx, req)
			}
		}
		if err != nil {
			return fmt.Errorf("promote %s v%s into %s: %w", src.Name, src.Version, cfg.Model, err)
		}
		version, how = resp.ModelVersion.Version, "copied"
	}
	mv, err := s.WaitVersionReady(ctx, cfg.Model, version)
	if err != nil {
		return fmt.Errorf("promote %s v%s: %w", src.Name, src.Version, err)
	}
	s.Version = mv
	s.Record.Model = &release.ModelVersionRef{
		Name: cfg.Model, Version: mv.Version, RunID: src.RunId,
		Source: &release.ModelSource{Env: rec.Env, Model: src.Name, Version: src.Version, Record: rec.ID, Route: RouteCopy},
	}
	if rec.Model != nil {
		s.Record.Model.JobRunID, s.Record.Model.JobRunURL = rec.Model.JobRunID, rec.Model.JobRunURL
	}
	s.Printf("   %s v%s -> %s v%s (%s)\n", src.Name, src.Version, cfg.Model, mv.Version, how)
	return nil
}

// lineage adds the promotion source to a version trained on the train
// route (dev's versions have none).
func (s *State) lineage(ref *release.ModelVersionRef) *release.ModelVersionRef {
	if s.Source != nil && s.SourceVersion != nil {
		ref.Source = &release.ModelSource{Env: s.Source.Env, Model: s.SourceVersion.Name, Version: s.SourceVersion.Version, Record: s.Source.ID, Route: RouteTrain}
	}
	return ref
}

// trainedBefore finds the version an earlier deploy of this release
// trained in this workspace on the train route (same release, commit and
// source environment), so a re-run serves it instead of training again.
func (s *State) trainedBefore(ctx context.Context) (*ml.ModelVersion, error) {
	found, err := findVersion(ctx, s, s.Config.Model, s.trainedMatch)
	if err != nil || found == nil {
		return nil, err
	}
	return s.WaitVersionReady(ctx, found.Name, found.Version)
}

func (s *State) trainedMatch(mv ml.ModelVersion) bool {
	t := tagMap(mv.Tags)
	return t[TagRoute] == RouteTrain && t[TagRelease] == s.Release.Tag && t[TagGitSHA] == s.Release.SHA &&
		t[TagSourceEnv] == s.Source.Env && usable(mv)
}

// jobRunOf is the training job run a version's tags name (0 if none).
func jobRunOf(mv *ml.ModelVersion) int64 {
	id, _ := strconv.ParseInt(tagMap(mv.Tags)[TagJobRunID], 10, 64)
	return id
}
