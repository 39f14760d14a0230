package jobs

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

// Tracking is the MLflow tracking a training run logs to.
type Tracking interface {
	StartRun(experiment, name string, start time.Time, tags []ml.RunTag) string
	Run(id string) (ml.Run, bool)
	LogBatch(b ml.LogBatch) error
	LogModel(runID, dir string) error
	EndRun(runID string, status ml.RunInfoStatus, end time.Time)
}

// Registrar registers the model a training run logged as a new version of
// the registered model it names, as MLflow's
// log_model(registered_model_name=...) does: it answers with the model's
// name and the version, or the error the training task prints. The
// workspace model registry and Unity Catalog are both one.
type Registrar interface {
	RegisterModel(principal string, m core.LoggedModel) (name, version string, err error)
}

// Promoter runs the promotion job's copy task in Unity Catalog.
type Promoter interface {
	Promote(principal string, p unitycatalog.Promotion) (unitycatalog.PromotionReport, error)
}

// Options configure a Store.
type Options struct {
	// User is the workspace's user: creator of jobs and runs, and the
	// principal their tasks run as.
	User string
	// Host is the workspace's URL and WorkspaceID its id, which run page
	// URLs carry.
	Host        string
	WorkspaceID int64
	// Clock is the emulator's clock; nil is the wall clock.
	Clock core.Clock
	// Scale is real time per unit of service time.
	Scale float64
	// Pending is how long a run stays PENDING, and RunFor how long it
	// stays RUNNING unless scripted, in service time.
	Pending, RunFor time.Duration
	// IDs is the workspace's id sequence (jobs, runs and task runs), shared
	// with its other services; nil starts a sequence of the store's own.
	IDs *core.Sequence
	// Tracking, Models and Promoter are what a run's tasks act on: the
	// training task logs to Tracking and registers through Models, the
	// promotion task copies through Promoter.
	Tracking Tracking
	Models   Registrar
	Promoter Promoter
	// State is what the state file held; zero starts empty.
	State State
}

// State is the jobs part of the state file.
type State struct {
	Jobs        map[int64]*jobs.Job `json:"jobs"`
	Runs        map[int64]*runRec   `json:"job_runs"`
	TaskRuns    map[int64]int64     `json:"task_runs"` // task run id -> job run id
	Idempotency map[string]int64    `json:"idempotency_tokens"`
	// Scripts are the scripted outcomes of the next runs, by job name.
	Scripts map[string][]RunOutcome `json:"run_scripts"`
}

// runRec is a job run; its phase follows from the clock (runs.go).
type runRec struct {
	RunID       int64             `json:"run_id"`
	JobID       int64             `json:"job_id"`
	RunName     string            `json:"run_name"`
	Settings    jobs.JobSettings  `json:"settings"`
	Params      map[string]string `json:"params,omitempty"`
	Overrides   *jobs.RunNow      `json:"overrides,omitempty"`
	Created     time.Time         `json:"created"`
	StartAt     time.Time         `json:"start_at"`
	EndAt       time.Time         `json:"end_at"`
	Outcome     RunOutcome        `json:"outcome"`
	Tasks       []*taskRec        `json:"tasks"`
	Skipped     string            `json:"skipped,omitempty"`
	CanceledAt  time.Time         `json:"canceled_at"`
	Started     bool              `json:"started"`
	Finished    bool              `json:"finished"`
	MLflowRunID string            `json:"mlflow_run_id,omitempty"`
	Creator     string            `json:"creator"`
}

// taskRec is one task's run within a job run.
type taskRec struct {
	TaskKey string `json:"task_key"`
	RunID   int64  `json:"run_id"`
	Trains  bool   `json:"trains"`
	// Promotes marks the promotion job's copy task (promotion.go).
	Promotes bool                `json:"promotes,omitempty"`
	Result   jobs.RunResultState `json:"result,omitempty"`
	Message  string              `json:"message,omitempty"`
	Output   *jobs.RunOutput     `json:"output,omitempty"`
}

// RunOutcome scripts how a job run ends (see Store.ScriptNextRun).
type RunOutcome struct {
	// Result is SUCCESS (the default) or FAILED.
	Result jobs.RunResultState `json:"result,omitempty"`
	// Message is the error of a failed run.
	Message string `json:"message,omitempty"`
	// Duration is the RUNNING time in service time; 0 uses Options.RunFor.
	Duration time.Duration `json:"duration,omitempty"`
	// Metrics override the metrics the training task logs (accuracy,
	// tool_accuracy, risk_accuracy). An accuracy below the task's
	// --min-accuracy (0.9 by default) fails the run, as train.py does.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// FailTask is the task key that fails; default the training task, or the
	// last task when none trains.
	FailTask string `json:"fail_task,omitempty"`
}

// Store is one workspace's jobs and their runs. It has its own lock, which
// it holds while a run's tasks act on tracking, the registries and Unity
// Catalog.
type Store struct {
	mu          sync.Mutex
	user        string
	host        string
	workspaceID int64
	clock       core.Clock
	scale       float64
	pending     time.Duration
	runFor      time.Duration
	ids         *core.Sequence
	tracking    Tracking
	models      Registrar
	promoter    Promoter
	st          State
}

// New returns the jobs store of opts.
func New(opts Options) *Store {
	s := &Store{
		user: opts.User, host: opts.Host, workspaceID: opts.WorkspaceID, clock: opts.Clock,
		scale: opts.Scale, pending: opts.Pending, runFor: opts.RunFor, ids: opts.IDs,
		tracking: opts.Tracking, models: opts.Models, promoter: opts.Promoter, st: opts.State,
	}
	if s.clock == nil {
		s.clock = core.WallClock{}
	}
	if s.ids == nil {
		s.ids = core.NewSequence(0)
	}
	if s.st.Jobs == nil {
		s.st.Jobs = map[int64]*jobs.Job{}
	}
	if s.st.Runs == nil {
		s.st.Runs = map[int64]*runRec{}
	}
	if s.st.TaskRuns == nil {
		s.st.TaskRuns = map[int64]int64{}
	}
	if s.st.Idempotency == nil {
		s.st.Idempotency = map[string]int64{}
	}
	if s.st.Scripts == nil {
		s.st.Scripts = map[string][]RunOutcome{}
	}
	return s
}

// MarshalState encodes the jobs part of the state file.
func (s *Store) MarshalState() ([]byte, error) { return core.MarshalLocked(&s.mu, &s.st) }

// Advance moves every run to now, with the side effects of its tasks.
func (s *Store) Advance() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clock.Now())
}

// advance moves every run to now. Call with s.mu held.
func (s *Store) advance(now time.Time) {
	ids := make([]int64, 0, len(s.st.Runs))
	for id := range s.st.Runs {
		ids = append(ids, id)
	}
	// Oldest first, so side effects (model versions) keep their order.
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		s.advanceRun(s.st.Runs[id], now)
	}
}

// ScriptNextRun makes the next run of the job named jobName end with
// outcome; several calls queue several outcomes, in order.
func (s *Store) ScriptNextRun(jobName string, outcome RunOutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Scripts[jobName] = append(s.st.Scripts[jobName], outcome)
}

// Job returns the job with this name (the newest, if several share it).
func (s *Store) Job(name string) (jobs.Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *jobs.Job
	for _, j := range s.st.Jobs {
		if j.Settings.Name == name && (best == nil || j.JobId > best.JobId) {
			best = j
		}
	}
	if best == nil {
		return jobs.Job{}, false
	}
	return *best, true
}

// JobRuns returns the runs of the job with this name as they are now,
// oldest first.
func (s *Store) JobRuns(jobName string) []jobs.Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.advance(now)
	var out []jobs.Run
	for _, run := range s.st.Runs {
		if run.Settings.Name == jobName {
			out = append(out, s.renderRun(run, now))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RunId < out[j].RunId })
	return out
}

// runPageURL is a run's page: <host>/jobs/<job>/runs/<run>?o=<workspace id>.
func (s *Store) runPageURL(job, run int64) string {
	return fmt.Sprintf("%s/jobs/%d/runs/%d?o=%d", s.host, job, run, s.workspaceID)
}

// internal is 500 INTERNAL_ERROR for a response the store cannot build.
func internal(format string, args ...any) *core.Error {
	return core.NewError(http.StatusInternalServerError, core.CodeInternal, format, args...)
}
