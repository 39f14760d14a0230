package cd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/jobs"

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

// Tags are the release facts attached to everything a deploy creates.
func (s *State) Tags() map[string]string { return releaseTags(s.Release, s.Config.Env) }

func releaseTags(rel release.Identity, env Environment) map[string]string {
	return map[string]string{TagRelease: rel.Tag, TagGitSHA: rel.SHA, TagTarget: env.Name()}
}

// jobParameters are the values for the release parameters a job may
// declare; only declared ones are sent.
func (s *State) jobParameters() map[string]string {
	return map[string]string{"git_sha": s.Release.SHA, "release_tag": s.Release.Tag, "release": s.Release.Tag, "target": s.Config.Env.Name()}
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
	before, err := s.Registry.RegisteredBefore(ctx, s.deployment())
	if err != nil {
		return err
	}
	if before != nil {
		s.keepVersion(before)
		return Skip("%s", before.How)
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
	s.Record.Model = s.deployment().lineage(&release.ModelVersionRef{Name: cfg.Model, RunID: tr.MLflowRunID, JobRunID: tr.RunID, JobRunURL: tr.RunURL})
	s.Printf("   run %d succeeded: MLflow run %s\n", tr.RunID, tr.MLflowRunID)
	return nil
}

func formatParams(p map[string]string) string {
	keys := slices.Sorted(maps.Keys(p))
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
	sum := sha256.Sum256([]byte(s.Config.Env.Name() + "|" + s.Release.Tag + "|" + id + "|" + step))
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
// model, named by the release (the registry's Register: a release alias
// in Unity Catalog, release tags in the workspace registry).
type Register struct{}

// Name implements Stage.
func (Register) Name() string { return "register" }

// Run implements Stage.
func (Register) Run(ctx context.Context, s *State) error {
	tr := s.Training
	if !s.trainedHere() {
		return s.skipCopied()
	}
	if tr == nil && s.Version != nil {
		return Skip("%s v%s registered before", s.Version.Name, s.Version.Version)
	}
	if tr == nil {
		return fmt.Errorf("no training run to register")
	}
	r, err := s.Registry.Register(ctx, s.deployment(), tr)
	s.keepVersion(r)
	return err
}

// keepVersion makes a registered version the one this deploy serves, in
// the State and the record (nil: nothing registered).
func (s *State) keepVersion(r *Registered) {
	if r == nil {
		return
	}
	s.Version = r.Version
	s.Record.Model = r.Ref
}

// Promote copies the model version the source environment verified into
// this environment's model (the registry's Promote), with its lineage.
// Re-running finds the copy instead of making another.
type Promote struct{}

// Name implements Stage.
func (Promote) Name() string { return "promote" }

// Run implements Stage.
func (Promote) Run(ctx context.Context, s *State) error {
	src, rec, env := s.SourceVersion, s.Source, s.Config.Env
	if src == nil || rec == nil {
		return fmt.Errorf("no promotion source (the source stage did not run)")
	}
	if s.Route == RouteTrain {
		return Skip("trained in %s's own workspace instead: %s is another workspace than %s", env, env, rec.Env)
	}
	r, err := s.Registry.Promote(ctx, s.deployment())
	s.keepVersion(r)
	return err
}
