package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/atomicfile"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/tracking"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/workspacefiles"
)

// stateVersion changes when the file layout does; an older file is refused
// with a message rather than misread.
const stateVersion = 1

// state is what this package's services keep (jobs, the workspace
// registry, serving, scripted outcomes). It is guarded by
// Server.mu; the state file holds it with the service packages' parts
// (stateFile).
type state struct {
	Version int `json:"version"`
	// NextID is the id sequence the workspace's services share (the
	// workspace files' object ids and MLflow experiment ids too); safe
	// without Server.mu.
	NextID *core.Sequence `json:"next_id"`

	Jobs        map[int64]*jobs.Job `json:"jobs"`
	Runs        map[int64]*runRec   `json:"job_runs"`
	TaskRuns    map[int64]int64     `json:"task_runs"` // task run id -> job run id
	Idempotency map[string]int64    `json:"idempotency_tokens"`

	Models map[string]*modelRec `json:"registered_models"`

	Endpoints map[string]*endpointRec `json:"serving_endpoints"`
	// ServedEntities are this workspace's rows of
	// system.serving.served_entities, oldest first.
	ServedEntities []*servedEntityRec `json:"served_entities,omitempty"`

	Behaviors            map[string]Behavior     `json:"version_behaviors"`
	RunScripts           map[string][]RunOutcome `json:"run_scripts"`
	EndpointFailures     map[string][]string     `json:"endpoint_failures"`
	RegistrationFailures map[string][]string     `json:"registration_failures"`
}

func newState() *state {
	st := &state{Version: stateVersion, NextID: core.NewSequence(1000)}
	st.init()
	return st
}

// init makes every map non-nil (a loaded file may omit empty ones).
func (st *state) init() {
	if st.NextID == nil {
		st.NextID = core.NewSequence(0)
	}
	if st.Jobs == nil {
		st.Jobs = map[int64]*jobs.Job{}
	}
	if st.Runs == nil {
		st.Runs = map[int64]*runRec{}
	}
	if st.TaskRuns == nil {
		st.TaskRuns = map[int64]int64{}
	}
	if st.Idempotency == nil {
		st.Idempotency = map[string]int64{}
	}
	if st.Models == nil {
		st.Models = map[string]*modelRec{}
	}
	if st.Endpoints == nil {
		st.Endpoints = map[string]*endpointRec{}
	}
	if st.Behaviors == nil {
		st.Behaviors = map[string]Behavior{}
	}
	if st.RunScripts == nil {
		st.RunScripts = map[string][]RunOutcome{}
	}
	if st.EndpointFailures == nil {
		st.EndpointFailures = map[string][]string{}
	}
	if st.RegistrationFailures == nil {
		st.RegistrationFailures = map[string][]string{}
	}
}

func (st *state) nextID() int64 { return st.NextID.Next() }

// stateFile is what the state file holds: the workspace's own state and,
// each under its own key, the parts its service packages own. A part keeps
// its key when it moves between packages, so the layout, and stateVersion,
// need not change.
type stateFile struct {
	*state
	// Files is package workspacefiles' tree.
	Files map[string]workspacefiles.Object `json:"workspace_objects"`
	// Experiments and MLflowRuns are package tracking's store.
	Experiments map[string]ml.Experiment `json:"experiments"`
	MLflowRuns  map[string]tracking.Run  `json:"mlflow_runs"`
	// Tables are the metastore's tables this workspace owns (its endpoints'
	// inference tables): the metastore is shared and lives in the process,
	// but the rows an endpoint captured persist with its workspace.
	Tables []unitycatalog.Table `json:"tables,omitempty"`
}

// runRec is a job run; its phase follows from the clock (see jobs.go).
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

// modelRec is a registered model of the workspace model registry.
type modelRec struct {
	Model       ml.Model      `json:"model"`
	ID          string        `json:"id"`
	Versions    []*versionRec `json:"versions"`
	NextVersion int           `json:"next_version"`
}

type versionRec struct {
	MV          ml.ModelVersion       `json:"model_version"`
	ReadyAt     time.Time             `json:"ready_at"`
	FinalStatus ml.ModelVersionStatus `json:"final_status"`
	FinalMsg    string                `json:"final_message,omitempty"`
}

// endpointRec is a serving endpoint with its served and pending configs.
type endpointRec struct {
	Name           string                            `json:"name"`
	ID             string                            `json:"id"`
	Creator        string                            `json:"creator"`
	Created        int64                             `json:"created"`
	Updated        int64                             `json:"updated"`
	Description    string                            `json:"description,omitempty"`
	Tags           []serving.EndpointTag             `json:"tags,omitempty"`
	RouteOptimized bool                              `json:"route_optimized,omitempty"`
	Current        *configRec                        `json:"current,omitempty"`
	Pending        *configRec                        `json:"pending,omitempty"`
	UpdateState    serving.EndpointStateConfigUpdate `json:"update_state"`
	UpdateDoneAt   time.Time                         `json:"update_done_at"`
	UpdateFails    bool                              `json:"update_fails,omitempty"`
	NextConfig     int64                             `json:"next_config"`
	BuildLogs      map[string]string                 `json:"build_logs,omitempty"`
	Metrics        map[string]*entityMetrics         `json:"metrics,omitempty"`
	// Gateway is the endpoint's ai_gateway (inferencetables.go).
	Gateway *gatewayRec `json:"ai_gateway,omitempty"`
}

type configRec struct {
	Version   int64                        `json:"version"`
	Entities  []serving.ServedEntityOutput `json:"entities"`
	Routes    []serving.Route              `json:"routes"`
	StartTime int64                        `json:"start_time"`
	Deploying map[string]bool              `json:"deploying,omitempty"` // entities built by this update
	Failed    map[string]bool              `json:"failed,omitempty"`
	// EntityIDs are the served entities' served_entity_ids, by name
	// (inferencetables.go).
	EntityIDs map[string]string `json:"entity_ids,omitempty"`
}

// load reads a state file; a missing file is an empty workspace.
func load(path string) (stateFile, error) {
	// #nosec G304 -- the emulator's state file, named by its operator (-state)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return stateFile{state: newState()}, nil
	}
	if err != nil {
		return stateFile{}, fmt.Errorf("read emulator state %s: %w", path, err)
	}
	// The embedded state is allocated first: encoding/json cannot allocate
	// an embedded pointer to an unexported type.
	f := stateFile{state: &state{}}
	if err := json.Unmarshal(raw, &f); err != nil {
		return stateFile{}, fmt.Errorf("parse emulator state %s: %w (delete the file to start a fresh workspace)", path, err)
	}
	if f.Version != stateVersion {
		return stateFile{}, fmt.Errorf("emulator state %s has layout version %d, this build reads %d (delete the file to start a fresh workspace)", path, f.Version, stateVersion)
	}
	f.init()
	return f, nil
}

// write replaces the state file whole, so a reader never sees half a
// workspace.
func write(path string, raw []byte) error {
	if err := atomicfile.Write(path, raw, 0o600); err != nil {
		return fmt.Errorf("write emulator state: %w", err)
	}
	return nil
}
