package registry

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/databricks/databricks-sdk-go/service/ml"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// DefaultRegistration is how long a version stays PENDING_REGISTRATION on
// the service, in service time.
const DefaultRegistration = 30 * time.Second

// Runs is what the registry asks MLflow tracking: whether a version's
// source run exists and logged files where the source says.
type Runs interface {
	RunExists(id string) bool
	HasArtifacts(runID, dir string) bool
}

// Options configure a Store.
type Options struct {
	// Enabled serves the registry's routes; a disabled registry answers
	// every one 403 PERMISSION_DENIED, as on the workspaces of new accounts.
	Enabled bool
	// User is the workspace's user, who owns what is registered.
	User string
	// Clock stamps models and versions; nil is the wall clock.
	Clock core.Clock
	// Scale is real time per unit of service time (Registration).
	Scale float64
	// Registration is how long a version stays PENDING_REGISTRATION, in
	// service time.
	Registration time.Duration
	// Random is the workspace's seeded generator, which registered model
	// ids come from; nil is a generator of the store's own.
	Random *core.Random
	// Runs is the workspace's MLflow tracking service.
	Runs Runs
	// State is what the state file held; zero starts empty.
	State State
}

// State is the registry's part of the state file.
type State struct {
	Models map[string]*model `json:"registered_models"`
	// Failures are the scripted registration failures, by model.
	Failures map[string][]string `json:"registration_failures"`
}

// model is a registered model with its versions.
type model struct {
	Model       ml.Model   `json:"model"`
	ID          string     `json:"id"`
	Versions    []*version `json:"versions"`
	NextVersion int        `json:"next_version"`
}

// version is a model version and how its registration ends.
type version struct {
	MV          ml.ModelVersion       `json:"model_version"`
	ReadyAt     time.Time             `json:"ready_at"`
	FinalStatus ml.ModelVersionStatus `json:"final_status"`
	FinalMsg    string                `json:"final_message,omitempty"`
}

// Store is one workspace's model registry. It has its own lock.
type Store struct {
	mu           sync.Mutex
	enabled      bool
	user         string
	clock        core.Clock
	scale        float64
	registration time.Duration
	random       *core.Random
	runs         Runs
	st           State
}

// New returns the registry of opts.
func New(opts Options) *Store {
	s := &Store{
		enabled: opts.Enabled, user: opts.User, clock: opts.Clock, scale: opts.Scale,
		registration: opts.Registration, random: opts.Random, runs: opts.Runs, st: opts.State,
	}
	if s.clock == nil {
		s.clock = core.WallClock{}
	}
	if s.random == nil {
		s.random = core.NewRandom(0)
	}
	if s.st.Models == nil {
		s.st.Models = map[string]*model{}
	}
	if s.st.Failures == nil {
		s.st.Failures = map[string][]string{}
	}
	return s
}

// MarshalState encodes the registry's part of the state file.
func (s *Store) MarshalState() ([]byte, error) { return core.MarshalLocked(&s.mu, &s.st) }

// errDisabled is the answer of every registry route on a workspace
// without it.
func errDisabled() *core.Error {
	return core.PermissionDenied("The legacy workspace model registry is disabled for the current Databricks workspace.")
}

// Advance settles the versions whose registration time is up.
func (s *Store) Advance() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
}

// advance settles every version. Call with s.mu held.
func (s *Store) advance() {
	now := s.clock.Now()
	for _, m := range s.st.Models {
		for _, v := range m.Versions {
			v.advance(now)
		}
	}
}

// advance settles a pending version whose registration time is up.
func (v *version) advance(now time.Time) {
	if v.MV.Status == ml.ModelVersionStatusPendingRegistration && !now.Before(v.ReadyAt) {
		v.MV.Status, v.MV.StatusMessage = v.FinalStatus, v.FinalMsg
		v.MV.LastUpdatedTimestamp = v.ReadyAt.UnixMilli()
	}
}

func modelMissing(name string) *core.Error {
	return core.NotFound("Registered Model with name=%s not found", name)
}

// model finds a registered model. Call with s.mu held.
func (s *Store) model(name string) (*model, *core.Error) {
	m, ok := s.st.Models[name]
	if !ok {
		return nil, modelMissing(name)
	}
	return m, nil
}

// version finds a model version. Call with s.mu held.
func (s *Store) version(name, number string) (*model, *version, *core.Error) {
	m, aerr := s.model(name)
	if aerr != nil {
		return nil, nil, aerr
	}
	for _, v := range m.Versions {
		if v.MV.Version == number {
			return m, v, nil
		}
	}
	return nil, nil, core.NotFound("Model Version (name=%s, version=%s) not found", name, number)
}

// createModel adds a registered model. Call with s.mu held.
func (s *Store) createModel(name, description string, tags []ml.ModelTag) *model {
	now := s.clock.Now().UnixMilli()
	m := &model{
		Model: ml.Model{Name: name, Description: description, Tags: tags, CreationTimestamp: now, LastUpdatedTimestamp: now, UserId: s.user},
		ID:    s.random.UUID(),
	}
	s.st.Models[name] = m
	return m
}

// sourceRun extracts the MLflow run id and artifact path of a model source:
// runs:/<id>/<path> or dbfs:/databricks/mlflow-tracking/<exp>/<id>/artifacts/<path>.
func sourceRun(source string) (runID, artifactPath string, ok bool) {
	if rest, found := strings.CutPrefix(source, "runs:/"); found {
		runID, artifactPath, _ = strings.Cut(rest, "/")
		return runID, artifactPath, runID != ""
	}
	if rest, found := strings.CutPrefix(source, "dbfs:/databricks/mlflow-tracking/"); found {
		parts := strings.SplitN(rest, "/", 4) // exp, run, "artifacts", path
		if len(parts) >= 3 && parts[2] == "artifacts" {
			if len(parts) == 4 {
				artifactPath = parts[3]
			}
			return parts[1], artifactPath, true
		}
	}
	return "", "", false
}

// register creates a model version. With immediate (log_model's
// registration, which waits for it) the registered model is created when
// missing and the version settles at once. Call with s.mu held.
func (s *Store) register(name, source, runID, description string, tags []ml.ModelVersionTag, immediate bool) (*version, *core.Error) {
	if strings.TrimSpace(source) == "" {
		return nil, core.InvalidParam("Model version source must not be empty.")
	}
	m, ok := s.st.Models[name]
	if !ok {
		if !immediate {
			return nil, modelMissing(name)
		}
		m = s.createModel(name, "", nil)
	}
	final, finalMsg := ml.ModelVersionStatusReady, ""
	if id, artifactPath, fromRun := sourceRun(source); fromRun {
		if !s.runs.RunExists(id) {
			return nil, core.NotFound("Run '%s' not found.", id)
		}
		if runID == "" {
			runID = id
		}
		if !s.runs.HasArtifacts(id, artifactPath) {
			final, finalMsg = ml.ModelVersionStatusFailedRegistration, "Unable to find a model at "+source+": the run logged no artifacts under "+artifactPath
		}
	}
	if runID != "" && !s.runs.RunExists(runID) {
		return nil, core.NotFound("Run '%s' not found.", runID)
	}
	if q := s.st.Failures[name]; len(q) > 0 {
		final, finalMsg, s.st.Failures[name] = ml.ModelVersionStatusFailedRegistration, q[0], q[1:]
		if len(s.st.Failures[name]) == 0 {
			delete(s.st.Failures, name)
		}
	}
	now := s.clock.Now()
	m.NextVersion++
	v := &version{
		MV: ml.ModelVersion{
			Name: name, Version: strconv.Itoa(m.NextVersion), Source: source, RunId: runID,
			Description: description, Tags: tags, CurrentStage: "None", UserId: s.user,
			Status: ml.ModelVersionStatusPendingRegistration, CreationTimestamp: now.UnixMilli(), LastUpdatedTimestamp: now.UnixMilli(),
		},
		ReadyAt:     s.clock.Now().Add(core.Scaled(s.registration, s.scale)),
		FinalStatus: final, FinalMsg: finalMsg,
	}
	if immediate {
		v.ReadyAt = now
		v.advance(now)
	}
	m.Versions = append(m.Versions, v)
	m.Model.LastUpdatedTimestamp = now.UnixMilli()
	return v, nil
}

// Register registers the model at source as a new version of name the
// way MLflow's log_model(registered_model_name=...) does, which waits for
// it: the registered model is created when missing and the version is
// READY, or FAILED_REGISTRATION with its status message, at once.
func (s *Store) Register(name, source, runID string) (ml.ModelVersion, *core.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, aerr := s.register(name, source, runID, "", nil, true)
	if aerr != nil {
		return ml.ModelVersion{}, aerr
	}
	return v.MV, nil
}

// RegisterModel registers a model a training run logged, as its task does
// (Register), and answers with the model's name and the version, or the
// error the task prints: the registry's refusal, or a version that failed
// registration.
func (s *Store) RegisterModel(_ string, l core.LoggedModel) (name, number string, err error) {
	if !s.enabled {
		return "", "", fmt.Errorf("registering the model as %s: %s", l.Model, core.RestException(errDisabled()))
	}
	mv, aerr := s.Register(l.Model, l.Source, l.RunID)
	if aerr != nil {
		return "", "", fmt.Errorf("registering the model as %s: %s", l.Model, aerr.Message)
	}
	if mv.Status != ml.ModelVersionStatusReady {
		return "", "", fmt.Errorf("model version %s of %s failed registration: %s", mv.Version, l.Model, mv.StatusMessage)
	}
	return l.Model, mv.Version, nil
}

// FailNextRegistration makes the next version registered under name end
// FAILED_REGISTRATION with message.
func (s *Store) FailNextRegistration(name, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Failures[name] = append(s.st.Failures[name], message)
}

// ModelVersion returns a model version as the API shows it now.
func (s *Store) ModelVersion(name, number string) (ml.ModelVersion, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	_, v, aerr := s.version(name, number)
	if aerr != nil {
		return ml.ModelVersion{}, false
	}
	return v.MV, true
}

// VersionStatus is a model version's status now, or the registry's answer
// for a missing model or version; a serving endpoint serves only READY
// versions. Every principal of the workspace may read it.
func (s *Store) VersionStatus(_, name, number string) (string, *core.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	_, v, aerr := s.version(name, number)
	if aerr != nil {
		return "", aerr
	}
	return string(v.MV.Status), nil
}

// internal is 500 INTERNAL_ERROR for a response the registry cannot build.
func internal(format string, args ...any) *core.Error {
	return core.NewError(http.StatusInternalServerError, core.CodeInternal, format, args...)
}
