package emulator

import (
	"fmt"
	"sort"
	"time"

	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"
)

// advance moves every state machine to now. Call with s.mu held.
func (s *Server) advance(now time.Time) {
	ids := make([]int64, 0, len(s.st.Runs))
	for id := range s.st.Runs {
		ids = append(ids, id)
	}
	// Oldest first, so side effects (model versions) keep their order.
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		s.advanceRun(s.st.Runs[id], now)
	}
	for _, m := range s.st.Models {
		for _, v := range m.Versions {
			s.advanceVersion(v, now)
		}
	}
	for _, ep := range s.st.Endpoints {
		s.advanceEndpoint(ep, now)
	}
}

// ScriptNextRun makes the next run of the job named jobName end with
// outcome; several calls queue several outcomes, in order.
func (s *Server) ScriptNextRun(jobName string, outcome RunOutcome) {
	s.mu.Lock()
	s.st.RunScripts[jobName] = append(s.st.RunScripts[jobName], outcome)
	s.mu.Unlock()
	s.changed()
}

// FailNextEndpointUpdate makes the next config update of the endpoint (or
// its creation) end UPDATE_FAILED, with logs as the build logs of the served
// entities it deploys.
func (s *Server) FailNextEndpointUpdate(endpoint, logs string) {
	s.mu.Lock()
	s.st.EndpointFailures[endpoint] = append(s.st.EndpointFailures[endpoint], logs)
	s.mu.Unlock()
	s.changed()
}

// FailNextRegistration makes the next version registered under model end
// FAILED_REGISTRATION with message.
func (s *Server) FailNextRegistration(model, message string) {
	s.mu.Lock()
	s.st.RegistrationFailures[model] = append(s.st.RegistrationFailures[model], message)
	s.mu.Unlock()
	s.changed()
}

// SetVersionBehavior sets how a model version answers invocations and
// whether its deployments fail. It applies to requests from now on,
// including on endpoints that already serve the version.
func (s *Server) SetVersionBehavior(model, version string, b Behavior) {
	key := behaviorKey(model, version)
	s.mu.Lock()
	s.st.Behaviors[key] = b
	if b.Predict != nil {
		s.predictors[key] = b.Predict
	} else {
		delete(s.predictors, key)
	}
	s.mu.Unlock()
	s.changed()
}

// SeedModelVersion registers a READY version of model from a finished MLflow
// run that logged the model (creating the registered model when needed), for
// tests that start after training. It returns the version and the run id.
func (s *Server) SeedModelVersion(model string) (version, runID string, err error) {
	s.mu.Lock()
	now := s.now()
	runID = s.runs.StartRun("/Shared/emulator-seed", "seed", now, nil)
	if err := s.runs.LogModel(runID, ModelArtifactPath); err != nil {
		s.mu.Unlock()
		return "", "", fmt.Errorf("seed model version of %s: %w", model, err)
	}
	s.runs.EndRun(runID, ml.RunInfoStatusFinished, now)
	v, aerr := s.registerVersion(model, "runs:/"+runID+"/"+ModelArtifactPath, runID, "", nil, true)
	s.mu.Unlock()
	s.changed()
	if aerr != nil {
		return "", "", fmt.Errorf("seed model version of %s: %w", model, aerr)
	}
	if v.MV.Status != ml.ModelVersionStatusReady {
		return v.MV.Version, runID, fmt.Errorf("seed model version %s of %s: %s", v.MV.Version, model, v.MV.StatusMessage)
	}
	return v.MV.Version, runID, nil
}

// Endpoint returns a serving endpoint as the API shows it now.
func (s *Server) Endpoint(name string) (serving.ServingEndpointDetailed, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.now())
	ep, ok := s.st.Endpoints[name]
	if !ok {
		return serving.ServingEndpointDetailed{}, false
	}
	return ep.render(), true
}

// Traffic returns the served config's traffic shares by served entity name
// (nil while the endpoint serves nothing).
func (s *Server) Traffic(endpoint string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.now())
	ep, ok := s.st.Endpoints[endpoint]
	if !ok || ep.Current == nil {
		return nil
	}
	out := map[string]int{}
	for _, r := range ep.Current.Routes {
		out[r.ServedEntityName] = r.TrafficPercentage
	}
	return out
}

// EntityStats are the counters behind the metrics export of one served entity.
type EntityStats struct {
	EntityName    string
	EntityVersion string
	Requests      int64
	Status4xx     int64
	Status5xx     int64
	LatencySumMs  float64
}

// EntityStats returns the invocation counters of an endpoint by served entity name.
func (s *Server) EntityStats(endpoint string) map[string]EntityStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	ep, ok := s.st.Endpoints[endpoint]
	if !ok {
		return nil
	}
	out := map[string]EntityStats{}
	for name, m := range ep.Metrics {
		out[name] = EntityStats{
			EntityName: m.EntityName, EntityVersion: m.EntityVersion,
			Requests: m.Requests, Status4xx: m.Status4xx, Status5xx: m.Status5xx, LatencySumMs: m.LatencySumMs,
		}
	}
	return out
}

// ModelVersion returns a registry model version as the API shows it now.
func (s *Server) ModelVersion(model, version string) (ml.ModelVersion, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.now())
	_, v, aerr := s.version(model, version)
	if aerr != nil {
		return ml.ModelVersion{}, false
	}
	return v.MV, true
}

// Job returns the job with this name (the newest, if several share it).
func (s *Server) Job(name string) (jobs.Job, bool) {
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

// JobRuns returns the runs of the job with this name, oldest first.
func (s *Server) JobRuns(jobName string) []jobs.Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
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

// MLflowRun returns an MLflow run by id.
func (s *Server) MLflowRun(id string) (ml.Run, bool) {
	s.settle()
	return s.runs.Run(id)
}
