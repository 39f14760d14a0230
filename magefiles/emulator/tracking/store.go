package tracking

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/databricks/databricks-sdk-go/service/ml"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// Run is an MLflow run and the artifact files it logged, as the state file
// holds it.
type Run struct {
	Run       ml.Run           `json:"run"`
	Artifacts map[string]int64 `json:"artifacts,omitempty"` // relative path -> size
}

// Options configure a Store.
type Options struct {
	// User is the workspace's user, who owns the runs.
	User string
	// Clock stamps creation and start times; nil is the wall clock.
	Clock core.Clock
	// IDs is the workspace's id sequence, shared with its other services;
	// nil starts a sequence of the store's own.
	IDs *core.Sequence
	// Random is the workspace's seeded generator, which run ids come from;
	// nil is a generator of the store's own.
	Random *core.Random
	// Experiments (by id) and Runs (by run id) are what the state file
	// held (Snapshot); nil starts empty.
	Experiments map[string]ml.Experiment
	Runs        map[string]Run
}

// Store is one workspace's experiments and MLflow runs. It has its own
// lock.
type Store struct {
	mu     sync.Mutex
	user   string
	clock  core.Clock
	ids    *core.Sequence
	random *core.Random

	experiments map[string]*ml.Experiment
	runs        map[string]*Run
}

// New returns the store of opts.
func New(opts Options) *Store {
	s := &Store{
		user: opts.User, clock: opts.Clock, ids: opts.IDs, random: opts.Random,
		experiments: map[string]*ml.Experiment{}, runs: map[string]*Run{},
	}
	if s.clock == nil {
		s.clock = core.WallClock{}
	}
	if s.ids == nil {
		s.ids = core.NewSequence(0)
	}
	if s.random == nil {
		s.random = core.NewRandom(0)
	}
	for id, e := range opts.Experiments {
		s.experiments[id] = &e
	}
	for id, r := range opts.Runs {
		s.runs[id] = &r
	}
	return s
}

// Snapshot is a copy of the store for the state file.
func (s *Store) Snapshot() (experiments map[string]ml.Experiment, runs map[string]Run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	experiments = make(map[string]ml.Experiment, len(s.experiments))
	for id, e := range s.experiments {
		experiments[id] = *e
	}
	runs = make(map[string]Run, len(s.runs))
	for id, r := range s.runs {
		runs[id] = Run{Run: cloneRun(r.Run), Artifacts: maps.Clone(r.Artifacts)}
	}
	return experiments, runs
}

// StartRun opens a RUNNING run in the experiment of that name, which is
// created when missing, and returns the run's id.
func (s *Store) StartRun(experiment, name string, start time.Time, tags []ml.RunTag) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp := s.experimentByName(experiment, true)
	return s.createRun(exp, name, start, tags).Run.Info.RunId
}

// Run is a copy of a run.
func (s *Store) Run(id string) (ml.Run, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[id]
	if !ok {
		return ml.Run{}, false
	}
	return cloneRun(r.Run), true
}

// RunExists reports whether there is a run with this id.
func (s *Store) RunExists(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.runs[id]
	return ok
}

// LogBatch adds the batch's tags, params and metrics to its run, as
// MLflow's runs/log-batch does.
func (s *Store) LogBatch(b ml.LogBatch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, aerr := s.run(b.RunId)
	if aerr != nil {
		return aerr
	}
	data := r.Run.Data
	data.Tags = append(data.Tags, b.Tags...)
	data.Params = append(data.Params, b.Params...)
	data.Metrics = append(data.Metrics, b.Metrics...)
	return nil
}

// pyfuncFiles are the files an MLflow pyfunc model consists of, with sizes.
var pyfuncFiles = map[string]int64{
	"MLmodel": 612, "python_model.pkl": 2048, "requirements.txt": 31,
	"conda.yaml": 212, "python_env.yaml": 118,
}

// LogModel records the files of a pyfunc model logged under dir.
func (s *Store) LogModel(runID, dir string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, aerr := s.run(runID)
	if aerr != nil {
		return aerr
	}
	if r.Artifacts == nil {
		r.Artifacts = map[string]int64{}
	}
	for file, size := range pyfuncFiles {
		r.Artifacts[dir+"/"+file] = size
	}
	return nil
}

// HasArtifacts reports whether a run logged files under dir (anything,
// for an empty dir); a missing run has none.
func (s *Store) HasArtifacts(runID, dir string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[runID]
	if !ok {
		return false
	}
	dir = strings.Trim(dir, "/")
	for p := range r.Artifacts {
		if dir == "" || p == dir || strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// EndRun ends a RUNNING run with status at end; a run already ended, or
// none, is left as it is.
func (s *Store) EndRun(runID string, status ml.RunInfoStatus, end time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[runID]
	if !ok || r.Run.Info.Status != ml.RunInfoStatusRunning {
		return
	}
	r.Run.Info.Status, r.Run.Info.EndTime = status, end.UnixMilli()
}

// experimentByName finds an active experiment, creating it when asked.
// Call with s.mu held.
func (s *Store) experimentByName(name string, create bool) *ml.Experiment {
	for _, e := range s.experiments {
		if e.Name == name && e.LifecycleStage == "active" {
			return e
		}
	}
	if !create {
		return nil
	}
	id := strconv.FormatInt(s.ids.Next(), 10)
	now := s.clock.Now().UnixMilli()
	e := &ml.Experiment{
		ExperimentId: id, Name: name, LifecycleStage: "active",
		ArtifactLocation: "dbfs:/databricks/mlflow-tracking/" + id,
		CreationTime:     now, LastUpdateTime: now,
	}
	s.experiments[id] = e
	return e
}

// createRun starts a run in exp. Call with s.mu held.
func (s *Store) createRun(exp *ml.Experiment, name string, start time.Time, tags []ml.RunTag) *Run {
	id := s.random.UUID()
	tags = append([]ml.RunTag{{Key: "mlflow.runName", Value: name}, {Key: "mlflow.user", Value: s.user}}, tags...)
	r := &Run{Run: ml.Run{
		Info: &ml.RunInfo{
			RunId: id, RunUuid: id, RunName: name, ExperimentId: exp.ExperimentId,
			ArtifactUri: exp.ArtifactLocation + "/" + id + "/artifacts",
			Status:      ml.RunInfoStatusRunning, StartTime: start.UnixMilli(),
			LifecycleStage: "active", UserId: s.user,
		},
		Data: &ml.RunData{Tags: tags},
	}}
	s.runs[id] = r
	return r
}

// run finds a run or answers as the service does. Call with s.mu held.
func (s *Store) run(id string) (*Run, *core.Error) {
	r, ok := s.runs[id]
	if !ok {
		return nil, core.NotFound("Run '%s' not found.", id)
	}
	return r, nil
}

// cloneRun copies the parts of a run the store changes in place, so a copy
// can be encoded after the lock is released.
func cloneRun(r ml.Run) ml.Run {
	if r.Info != nil {
		info := *r.Info
		r.Info = &info
	}
	if r.Data != nil {
		data := *r.Data
		data.Tags, data.Params, data.Metrics = slices.Clone(data.Tags), slices.Clone(data.Params), slices.Clone(data.Metrics)
		r.Data = &data
	}
	return r
}
