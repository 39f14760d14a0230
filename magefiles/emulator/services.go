package emulator

import (
	"fmt"

	sdkjobs "github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	sdkserving "github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/jobs"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/registry"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

// What tests and the demo script and read of the workspace's services in
// Go. A script is saved to the state file at once; a read settles the
// state machines first, as a request would.

// modelRegistries sends a three-level model name (catalog.schema.model)
// to Unity Catalog and any other to the workspace model registry, as
// MLflow does: training registers through it and serving resolves the
// versions it serves.
type modelRegistries struct {
	uc        *unitycatalog.Metastore
	workspace *registry.Store
}

func (m modelRegistries) RegisterModel(principal string, l core.LoggedModel) (name, version string, err error) {
	if unitycatalog.IsModelName(l.Model) {
		return m.uc.RegisterModel(principal, l)
	}
	return m.workspace.RegisterModel(principal, l)
}

func (m modelRegistries) VersionStatus(principal, model, version string) (string, *core.Error) {
	if unitycatalog.IsModelName(model) {
		return m.uc.VersionStatus(principal, model, version)
	}
	return m.workspace.VersionStatus(principal, model, version)
}

// ScriptNextRun makes the next run of the job named jobName end with
// outcome; several calls queue several outcomes, in order.
func (s *Server) ScriptNextRun(jobName string, outcome RunOutcome) {
	s.jobs.ScriptNextRun(jobName, outcome)
	s.changed()
}

// FailNextEndpointUpdate makes the next config update of the endpoint (or
// its creation) end UPDATE_FAILED, with logs as the build logs of the served
// entities it deploys.
func (s *Server) FailNextEndpointUpdate(endpoint, logs string) {
	s.serving.FailNextUpdate(endpoint, logs)
	s.changed()
}

// FailNextRegistration makes the next version registered under model in
// the workspace registry end FAILED_REGISTRATION with message.
func (s *Server) FailNextRegistration(model, message string) {
	s.registry.FailNextRegistration(model, message)
	s.changed()
}

// SetVersionBehavior sets how a model version answers invocations and
// whether its deployments fail. It applies to requests from now on,
// including on endpoints that already serve the version.
func (s *Server) SetVersionBehavior(model, version string, b Behavior) {
	s.serving.SetBehavior(model, version, b)
	s.changed()
}

// SeedModelVersion registers a READY version of model in the workspace
// registry from a finished MLflow run that logged the model (creating the
// registered model when needed), for tests that start after training. It
// returns the version and the run id.
func (s *Server) SeedModelVersion(model string) (version, runID string, err error) {
	now := s.clock.Now()
	runID = s.runs.StartRun("/Shared/emulator-seed", "seed", now, nil)
	if err := s.runs.LogModel(runID, jobs.ModelArtifactPath); err != nil {
		return "", "", fmt.Errorf("seed model version of %s: %w", model, err)
	}
	s.runs.EndRun(runID, ml.RunInfoStatusFinished, now)
	v, aerr := s.registry.Register(model, "runs:/"+runID+"/"+jobs.ModelArtifactPath, runID)
	s.changed()
	if aerr != nil {
		return "", "", fmt.Errorf("seed model version of %s: %w", model, aerr)
	}
	if v.Status != ml.ModelVersionStatusReady {
		return v.Version, runID, fmt.Errorf("seed model version %s of %s: %s", v.Version, model, v.StatusMessage)
	}
	return v.Version, runID, nil
}

// Endpoint returns a serving endpoint as the API shows it now.
func (s *Server) Endpoint(name string) (sdkserving.ServingEndpointDetailed, bool) {
	s.settle()
	return s.serving.Endpoint(name)
}

// Traffic returns the served config's traffic shares by served entity name
// (nil while the endpoint serves nothing).
func (s *Server) Traffic(endpoint string) map[string]int {
	s.settle()
	return s.serving.Traffic(endpoint)
}

// EntityStats returns the invocation counters of an endpoint by served
// entity name.
func (s *Server) EntityStats(endpoint string) map[string]EntityStats {
	return s.serving.EntityStats(endpoint)
}

// ServedEntityID is the served_entity_id of the entity an endpoint's
// served config names so; false when it serves no such entity.
func (s *Server) ServedEntityID(endpoint, servedEntity string) (string, bool) {
	return s.serving.ServedEntityID(endpoint, servedEntity)
}

// servedEntityRows are this workspace's rows of the served entities system
// table, read by the metastore without its lock.
func (s *Server) servedEntityRows() [][]*string {
	s.settle()
	return s.serving.ServedEntityRows()
}

// ModelVersion returns a workspace registry model version as the API shows
// it now.
func (s *Server) ModelVersion(model, version string) (ml.ModelVersion, bool) {
	s.settle()
	return s.registry.ModelVersion(model, version)
}

// Job returns the job with this name (the newest, if several share it).
func (s *Server) Job(name string) (sdkjobs.Job, bool) { return s.jobs.Job(name) }

// JobRuns returns the runs of the job with this name, oldest first.
func (s *Server) JobRuns(jobName string) []sdkjobs.Run {
	s.settle()
	return s.jobs.JobRuns(jobName)
}

// MLflowRun returns an MLflow run by id.
func (s *Server) MLflowRun(id string) (ml.Run, bool) {
	s.settle()
	return s.runs.Run(id)
}

// TableRows returns a table's rows as column name -> cell (nil for NULL),
// for tests; false when the metastore has no such table.
func (s *Server) TableRows(fullName string) ([]map[string]*string, bool) {
	t, ok := s.uc.Table(fullName)
	if !ok {
		return nil, false
	}
	out := make([]map[string]*string, len(t.Rows))
	for i, r := range t.Rows {
		m := make(map[string]*string, len(t.Columns))
		for j, c := range t.Columns {
			m[c.Name] = r[j]
		}
		out[i] = m
	}
	return out, true
}
