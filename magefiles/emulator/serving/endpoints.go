package serving

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// Routes are the model serving routes databricks-sdk-go calls. Answers
// that point into the store's state are encoded under its lock, after the
// config updates settle to now; invocations and the metrics export settle
// only their endpoint.
func (s *Store) Routes() []core.Route {
	const api = "/api/2.0/serving-endpoints"
	routes := []core.Route{
		{Pattern: "POST " + api, Op: "serving-endpoints.create", Mutating: true, Handle: s.endpointsCreate},
		{Pattern: "GET " + api, Op: "serving-endpoints.list", Handle: s.endpointsList},
		{Pattern: "GET " + api + "/{name}", Op: "serving-endpoints.get", Handle: s.endpointsGet},
		{Pattern: "DELETE " + api + "/{name}", Op: "serving-endpoints.delete", Mutating: true, Handle: s.endpointsDelete},
		{Pattern: "PUT " + api + "/{name}/config", Op: "serving-endpoints.update-config", Mutating: true, Handle: s.endpointsUpdateConfig},
		{Pattern: "PATCH " + api + "/{name}/tags", Op: "serving-endpoints.patch-tags", Mutating: true, Handle: s.endpointsPatchTags},
		{Pattern: "PUT " + api + "/{name}/ai-gateway", Op: "serving-endpoints.put-ai-gateway", Mutating: true, Handle: s.endpointsPutAIGateway},
		{Pattern: "GET " + api + "/{name}/served-models/{served}/build-logs", Op: "serving-endpoints.build-logs", Handle: s.endpointsBuildLogs},
		{Pattern: "GET " + api + "/{name}/served-models/{served}/logs", Op: "serving-endpoints.logs", Handle: s.endpointsServerLogs},
	}
	for i := range routes {
		routes[i].Handle = core.Guarded(&s.mu, s.advance, routes[i].Handle)
	}
	return append(routes,
		core.Route{Pattern: "GET " + api + "/{name}/metrics", Op: "serving-endpoints.metrics", Serve: s.endpointsMetrics},
		core.Route{Pattern: "POST /serving-endpoints/{name}/invocations", Op: "serving-endpoints.query", Serve: s.invoke},
	)
}

// A config update (create or update-config) is IN_PROGRESS for
// Options.Update when it deploys new served entities, or
// Options.TrafficUpdate when it only moves traffic; meanwhile the previous
// config keeps serving. It then becomes the served config (NOT_UPDATING,
// READY), or, when scripted (FailNextUpdate) or when a new entity's
// version has a Behavior.BuildFailure, the update ends UPDATE_FAILED: the
// previous config keeps serving, the failed entities show
// DEPLOYMENT_FAILED in pending_config and their build logs hold the failure.

var nameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)

func endpointMissing(name string) *core.Error {
	return core.NotFound("Endpoint with name '%s' does not exist.", name)
}

func (s *Store) endpoint(name string) (*endpoint, *core.Error) {
	ep, ok := s.st.Endpoints[name]
	if !ok {
		return nil, endpointMissing(name)
	}
	return ep, nil
}

// buildConfig validates a config input the way the service does and turns it
// into the served form. Call with s.mu held.
func (s *Store) buildConfig(in *serving.EndpointCoreConfigInput, current *config) (*config, *core.Error) {
	if in == nil {
		return nil, core.InvalidParam("config is required.")
	}
	if aerr := checkLegacyCapture(in.AutoCaptureConfig); aerr != nil {
		return nil, aerr
	}
	if len(in.ServedEntities) > 0 && len(in.ServedModels) > 0 {
		return nil, core.InvalidParam("Only one of served_entities and served_models can be specified.")
	}
	inputs := in.ServedEntities
	for _, m := range in.ServedModels {
		inputs = append(inputs, serving.ServedEntityInput{
			EntityName: m.ModelName, EntityVersion: m.ModelVersion, Name: m.Name,
			WorkloadSize: m.WorkloadSize, WorkloadType: serving.ServingModelWorkloadType(m.WorkloadType),
			ScaleToZeroEnabled: m.ScaleToZeroEnabled, EnvironmentVars: m.EnvironmentVars,
		})
	}
	if len(inputs) == 0 {
		return nil, core.InvalidParam("The config must serve at least one entity (served_entities).")
	}
	if len(inputs) > maxServedEntities {
		return nil, errTooManyEntities(len(inputs))
	}
	for _, e := range in.ServedEntities {
		if e.ExternalModel == nil && !scaleToZeroSent(e) {
			return nil, errScaleToZeroUndefined()
		}
	}
	now := s.clock.Now().UnixMilli()
	cfg := &config{StartTime: now, Deploying: map[string]bool{}}
	seen := map[string]bool{}
	for i, e := range inputs {
		if e.ExternalModel != nil {
			return nil, core.InvalidParam("served_entities[%d]: external models are not supported by the emulator; serve a registered model.", i)
		}
		if e.EntityName == "" || e.EntityVersion == "" {
			return nil, core.InvalidParam("served_entities[%d]: entity_name and entity_version are required.", i)
		}
		name := e.Name
		if name == "" {
			name = strings.NewReplacer(".", "-", ":", "-").Replace(e.EntityName + "-" + e.EntityVersion)
		}
		if !nameRe.MatchString(name) {
			return nil, core.InvalidParam("Served entity name '%s' may only contain alphanumeric characters, dashes and underscores.", name)
		}
		if seen[name] {
			return nil, core.InvalidParam("Served entity name '%s' is used more than once; names must be unique within an endpoint.", name)
		}
		seen[name] = true
		size := e.WorkloadSize
		if size == "" && e.MinProvisionedConcurrency == 0 && e.MaxProvisionedConcurrency == 0 {
			size = "Small"
		}
		wt := e.WorkloadType
		if wt == "" {
			wt = serving.ServingModelWorkloadTypeCpu
		}
		if aerr := s.servable(e.EntityName, e.EntityVersion); aerr != nil {
			return nil, aerr
		}
		out := serving.ServedEntityOutput{
			Name: name, EntityName: e.EntityName, EntityVersion: e.EntityVersion,
			WorkloadSize: size, WorkloadType: wt, ScaleToZeroEnabled: e.ScaleToZeroEnabled,
			MinProvisionedConcurrency: e.MinProvisionedConcurrency, MaxProvisionedConcurrency: e.MaxProvisionedConcurrency,
			EnvironmentVars: e.EnvironmentVars, Creator: s.user, CreationTimestamp: now,
			ForceSendFields: []string{"ScaleToZeroEnabled"},
		}
		if prev := current.entity(name); prev != nil && sameDeployment(*prev, out) {
			out.Creator, out.CreationTimestamp = prev.Creator, prev.CreationTimestamp
		} else {
			cfg.Deploying[name] = true
		}
		cfg.Entities = append(cfg.Entities, out)
	}
	routes, aerr := buildRoutes(in.TrafficConfig, cfg.Entities)
	if aerr != nil {
		return nil, aerr
	}
	cfg.Routes = routes
	assignEntityIDs(cfg, current)
	return cfg, nil
}

// versionReady is the status of a servable version, in the workspace
// registry and in Unity Catalog alike.
const versionReady = "READY"

// servable checks that a served entity names a READY model version the
// workspace's principal can read. Call with s.mu held.
func (s *Store) servable(name, version string) *core.Error {
	status, aerr := s.versions.VersionStatus(s.user, name, version)
	if aerr != nil {
		return aerr
	}
	if status != versionReady {
		return core.InvalidParam("Model version %s of %s is not ready to serve (status %s).", version, name, status)
	}
	return nil
}

func sameDeployment(a, b serving.ServedEntityOutput) bool {
	return a.EntityName == b.EntityName && a.EntityVersion == b.EntityVersion &&
		a.WorkloadSize == b.WorkloadSize && a.WorkloadType == b.WorkloadType &&
		a.ScaleToZeroEnabled == b.ScaleToZeroEnabled
}

func (c *config) entity(name string) *serving.ServedEntityOutput {
	if c == nil {
		return nil
	}
	for i := range c.Entities {
		if c.Entities[i].Name == name {
			return &c.Entities[i]
		}
	}
	return nil
}

// buildRoutes validates traffic: every route names a served entity, each
// share is 0-100 and the shares sum to 100. One entity without routes gets
// all the traffic.
func buildRoutes(tc *serving.TrafficConfig, entities []serving.ServedEntityOutput) ([]serving.Route, *core.Error) {
	if tc == nil || len(tc.Routes) == 0 {
		if len(entities) > 1 {
			return nil, core.InvalidParam("traffic_config is required when the config serves more than one entity.")
		}
		return []serving.Route{{ServedEntityName: entities[0].Name, ServedModelName: entities[0].Name, TrafficPercentage: 100}}, nil
	}
	names := map[string]bool{}
	for _, e := range entities {
		names[e.Name] = true
	}
	sum := 0
	routed := map[string]bool{}
	var out []serving.Route
	for _, r := range tc.Routes {
		name := r.ServedEntityName
		if name == "" {
			name = r.ServedModelName
		}
		if !names[name] {
			return nil, core.InvalidParam("The traffic config routes to served entity '%s', which is not in the config.", name)
		}
		if routed[name] {
			return nil, core.InvalidParam("The traffic config has more than one route to served entity '%s'.", name)
		}
		routed[name] = true
		if r.TrafficPercentage < 0 || r.TrafficPercentage > 100 {
			return nil, core.InvalidParam("Traffic percentage %d for served entity '%s' must be between 0 and 100.", r.TrafficPercentage, name)
		}
		sum += r.TrafficPercentage
		out = append(out, serving.Route{ServedEntityName: name, ServedModelName: name, TrafficPercentage: r.TrafficPercentage})
	}
	if sum != 100 {
		return nil, core.InvalidParam("The traffic percentages of the routes must sum to 100, got %d.", sum)
	}
	return out, nil
}

// startUpdate makes cfg the pending config. Call with s.mu held.
func (s *Store) startUpdate(ep *endpoint, cfg *config) {
	ep.NextConfig++
	cfg.Version = ep.NextConfig
	d := s.trafficUpdate
	if len(cfg.Deploying) > 0 {
		d = s.update
	}
	failLogs := ""
	if q := s.st.Failures[ep.Name]; len(q) > 0 {
		failLogs, s.st.Failures[ep.Name] = q[0], q[1:]
		if len(s.st.Failures[ep.Name]) == 0 {
			delete(s.st.Failures, ep.Name)
		}
		if failLogs == "" {
			failLogs = "Container build failed (scripted failure)."
		}
	}
	cfg.Failed = map[string]bool{}
	for _, e := range cfg.Entities {
		if !cfg.Deploying[e.Name] {
			continue
		}
		if b, ok := s.st.Behaviors[behaviorKey(e.EntityName, e.EntityVersion)]; ok && b.BuildFailure != "" {
			cfg.Failed[e.Name] = true
			if ep.BuildLogs == nil {
				ep.BuildLogs = map[string]string{}
			}
			ep.BuildLogs[e.Name] = b.BuildFailure
		} else if failLogs != "" {
			cfg.Failed[e.Name] = true
			if ep.BuildLogs == nil {
				ep.BuildLogs = map[string]string{}
			}
			ep.BuildLogs[e.Name] = failLogs
		}
	}
	ep.Pending = cfg
	ep.UpdateState = serving.EndpointStateConfigUpdateInProgress
	ep.UpdateDoneAt = s.after(d)
	ep.UpdateFails = failLogs != "" || len(cfg.Failed) > 0
	ep.Updated = s.clock.Now().UnixMilli()
}

// advanceEndpoint finishes an update whose time is up. Call with s.mu held.
func (s *Store) advanceEndpoint(ep *endpoint, now time.Time) {
	if ep.UpdateState != serving.EndpointStateConfigUpdateInProgress || now.Before(ep.UpdateDoneAt) {
		return
	}
	if ep.UpdateFails {
		ep.UpdateState = serving.EndpointStateConfigUpdateUpdateFailed
		return
	}
	if ep.BuildLogs == nil {
		ep.BuildLogs = map[string]string{}
	}
	for _, e := range ep.Pending.Entities {
		if ep.Pending.Deploying[e.Name] {
			ep.BuildLogs[e.Name] = fmt.Sprintf("Building the serving environment for %s version %s\nInstalling requirements\nContainer image built successfully\n", e.EntityName, e.EntityVersion)
		}
	}
	ep.Current, ep.Pending = ep.Pending, nil
	ep.UpdateState = serving.EndpointStateConfigUpdateNotUpdating
	s.logServedEntities(ep, ep.Current, ep.UpdateDoneAt, false)
	for _, e := range ep.Current.Entities {
		ep.metrics(e)
	}
}

// entityState is the deployment state shown for a served entity.
func entityState(cfg *config, name string, pending bool, failed bool) *serving.ServedModelState {
	switch {
	case !pending || !cfg.Deploying[name]:
		return &serving.ServedModelState{Deployment: serving.ServedModelStateDeploymentDeploymentReady, DeploymentStateMessage: "Served entity is ready"}
	case failed && cfg.Failed[name]:
		return &serving.ServedModelState{Deployment: serving.ServedModelStateDeploymentDeploymentFailed, DeploymentStateMessage: "Served entity deployment failed: the container image build failed. See the build logs for details."}
	case failed:
		return &serving.ServedModelState{Deployment: serving.ServedModelStateDeploymentDeploymentAborted, DeploymentStateMessage: "Served entity deployment aborted because another entity in the update failed."}
	default:
		return &serving.ServedModelState{Deployment: serving.ServedModelStateDeploymentDeploymentCreating, DeploymentStateMessage: "Creating the serving environment"}
	}
}

func renderEntities(cfg *config, pending, failed bool) ([]serving.ServedEntityOutput, []serving.ServedModelOutput) {
	var ents []serving.ServedEntityOutput
	var models []serving.ServedModelOutput
	for _, e := range cfg.Entities {
		e.State = entityState(cfg, e.Name, pending, failed)
		ents = append(ents, e)
		models = append(models, serving.ServedModelOutput{
			Name: e.Name, ModelName: e.EntityName, ModelVersion: e.EntityVersion,
			WorkloadSize: e.WorkloadSize, WorkloadType: e.WorkloadType, ScaleToZeroEnabled: e.ScaleToZeroEnabled,
			Creator: e.Creator, CreationTimestamp: e.CreationTimestamp, State: e.State,
			ForceSendFields: []string{"ScaleToZeroEnabled"},
		})
	}
	return ents, models
}

// render builds the SDK view of an endpoint.
func (ep *endpoint) render() serving.ServingEndpointDetailed {
	out := serving.ServingEndpointDetailed{
		Name: ep.Name, Id: ep.ID, Creator: ep.Creator, CreationTimestamp: ep.Created,
		LastUpdatedTimestamp: ep.Updated, Description: ep.Description, Tags: ep.Tags,
		RouteOptimized: ep.RouteOptimized, PermissionLevel: serving.ServingEndpointDetailedPermissionLevelCanManage,
		State: &serving.EndpointState{ConfigUpdate: ep.UpdateState, Ready: serving.EndpointStateReadyNotReady},
	}
	if ep.Current != nil {
		out.State.Ready = serving.EndpointStateReadyReady
		ents, models := renderEntities(ep.Current, false, false)
		out.Config = &serving.EndpointCoreConfigOutput{
			ConfigVersion: ep.Current.Version, ServedEntities: ents, ServedModels: models,
			TrafficConfig: &serving.TrafficConfig{Routes: append([]serving.Route(nil), ep.Current.Routes...)},
		}
	}
	if ep.Pending != nil {
		failed := ep.UpdateState == serving.EndpointStateConfigUpdateUpdateFailed
		ents, models := renderEntities(ep.Pending, true, failed)
		out.PendingConfig = &serving.EndpointPendingConfig{
			ConfigVersion: int(ep.Pending.Version), ServedEntities: ents, ServedModels: models,
			StartTime:     ep.Pending.StartTime,
			TrafficConfig: &serving.TrafficConfig{Routes: append([]serving.Route(nil), ep.Pending.Routes...)},
		}
	}
	out.AiGateway = ep.Gateway.render()
	return out
}

func (ep *endpoint) summary() serving.ServingEndpoint {
	d := ep.render()
	out := serving.ServingEndpoint{
		Name: d.Name, Id: d.Id, Creator: d.Creator, CreationTimestamp: d.CreationTimestamp,
		LastUpdatedTimestamp: d.LastUpdatedTimestamp, Description: d.Description, Tags: d.Tags, State: d.State,
		AiGateway: d.AiGateway,
	}
	if d.Config != nil {
		out.Config = &serving.EndpointCoreConfigSummary{}
		for _, e := range d.Config.ServedEntities {
			out.Config.ServedEntities = append(out.Config.ServedEntities, serving.ServedEntitySpec{Name: e.Name, EntityName: e.EntityName, EntityVersion: e.EntityVersion})
			out.Config.ServedModels = append(out.Config.ServedModels, serving.ServedModelSpec{Name: e.Name, ModelName: e.EntityName, ModelVersion: e.EntityVersion})
		}
	}
	return out
}

func (s *Store) endpointsCreate(r *http.Request) (any, *core.Error) {
	var req serving.CreateServingEndpoint
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	if !nameRe.MatchString(req.Name) {
		return nil, core.InvalidParam("Endpoint name '%s' must be 1-63 alphanumeric characters, dashes or underscores.", req.Name)
	}
	if _, ok := s.st.Endpoints[req.Name]; ok {
		return nil, core.AlreadyExists("Endpoint with name '%s' already exists.", req.Name)
	}
	cfg, aerr := s.buildConfig(req.Config, nil)
	if aerr != nil {
		return nil, aerr
	}
	gw, aerr := s.buildGateway(req.AiGateway, req.Name, nil)
	if aerr != nil {
		return nil, aerr
	}
	now := s.clock.Now().UnixMilli()
	ep := &endpoint{
		Name: req.Name, ID: s.random.UUID(), Creator: s.user, Created: now,
		Description: req.Description, Tags: req.Tags, RouteOptimized: req.RouteOptimized, Gateway: gw,
	}
	s.startUpdate(ep, cfg)
	s.st.Endpoints[req.Name] = ep
	return s.renderEndpoint(ep), nil
}

func (s *Store) endpointsList(*http.Request) (any, *core.Error) {
	resp := serving.ListEndpointsResponse{Endpoints: []serving.ServingEndpoint{}}
	for _, n := range s.sortedNames() {
		resp.Endpoints = append(resp.Endpoints, s.st.Endpoints[n].summary())
	}
	return resp, nil
}

func (s *Store) endpointsGet(r *http.Request) (any, *core.Error) {
	var req serving.GetServingEndpointRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	ep, aerr := s.endpoint(r.PathValue("name"))
	if aerr != nil {
		return nil, aerr
	}
	return s.renderEndpoint(ep), nil
}

func (s *Store) endpointsDelete(r *http.Request) (any, *core.Error) {
	name := r.PathValue("name")
	ep, aerr := s.endpoint(name)
	if aerr != nil {
		return nil, aerr
	}
	s.markEndpointDeleted(ep, s.clock.Now())
	delete(s.st.Endpoints, name)
	return nil, nil
}

func (s *Store) endpointsUpdateConfig(r *http.Request) (any, *core.Error) {
	var req serving.EndpointCoreConfigInput
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	ep, aerr := s.endpoint(r.PathValue("name"))
	if aerr != nil {
		return nil, aerr
	}
	if ep.UpdateState == serving.EndpointStateConfigUpdateInProgress {
		return nil, core.Conflict("Endpoint '%s' is currently updating (config version %d); wait until config_update is NOT_UPDATING.", ep.Name, ep.Pending.Version)
	}
	cfg, aerr := s.buildConfig(&req, ep.Current)
	if aerr != nil {
		return nil, aerr
	}
	s.startUpdate(ep, cfg)
	return s.renderEndpoint(ep), nil
}

// endpointsPatchTags adds (or overwrites) and deletes endpoint tags and
// answers with the resulting tag list, like the service.
func (s *Store) endpointsPatchTags(r *http.Request) (any, *core.Error) {
	var req serving.PatchServingEndpointTags
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	ep, aerr := s.endpoint(r.PathValue("name"))
	if aerr != nil {
		return nil, aerr
	}
	for _, t := range req.AddTags {
		if t.Key == "" {
			return nil, core.InvalidParam("Tag key must not be empty.")
		}
	}
	drop := map[string]bool{}
	for _, k := range req.DeleteTags {
		drop[k] = true
	}
	for _, t := range req.AddTags {
		drop[t.Key] = true // replaced below
	}
	kept := ep.Tags[:0:0]
	for _, t := range ep.Tags {
		if !drop[t.Key] {
			kept = append(kept, t)
		}
	}
	ep.Tags = append(kept, req.AddTags...)
	sort.Slice(ep.Tags, func(i, j int) bool { return ep.Tags[i].Key < ep.Tags[j].Key })
	return serving.EndpointTags{Tags: ep.Tags}, nil
}

func (s *Store) endpointsBuildLogs(r *http.Request) (any, *core.Error) {
	ep, aerr := s.endpoint(r.PathValue("name"))
	if aerr != nil {
		return nil, aerr
	}
	served := r.PathValue("served")
	if logs, ok := ep.BuildLogs[served]; ok && (ep.UpdateState != serving.EndpointStateConfigUpdateInProgress || !ep.Pending.Deploying[served] || ep.Pending.Failed[served]) {
		return serving.BuildLogsResponse{Logs: logs}, nil
	}
	if e := ep.Pending.entity(served); e != nil {
		return serving.BuildLogsResponse{Logs: fmt.Sprintf("Building the serving environment for %s version %s\n", e.EntityName, e.EntityVersion)}, nil
	}
	if ep.Current.entity(served) != nil {
		return serving.BuildLogsResponse{Logs: ""}, nil
	}
	return nil, core.NotFound("Served model '%s' does not exist in endpoint '%s'.", served, ep.Name)
}

func (s *Store) endpointsServerLogs(r *http.Request) (any, *core.Error) {
	ep, aerr := s.endpoint(r.PathValue("name"))
	if aerr != nil {
		return nil, aerr
	}
	served := r.PathValue("served")
	m, ok := ep.Metrics[served]
	if !ok {
		if ep.Current.entity(served) == nil && ep.Pending.entity(served) == nil {
			return nil, core.NotFound("Served model '%s' does not exist in endpoint '%s'.", served, ep.Name)
		}
		return serving.ServerLogsResponse{Logs: ""}, nil
	}
	return serving.ServerLogsResponse{Logs: fmt.Sprintf(
		"Model server for %s (model %s version %s) is running\nrequests=%d 4xx=%d 5xx=%d\n",
		served, m.EntityName, m.EntityVersion, m.Requests, m.Status4xx, m.Status5xx)}, nil
}
