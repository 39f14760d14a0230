package bundle

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/ml"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/dyn"
)

// decodeResources decodes resources into the SDK's types with the CLI's
// grading: unknown fields and wrong types are warnings and left out,
// values outside an enum and missing required fields are warnings. The
// normalized values replace the tree's, so the printed configuration has
// the types the API will see. The types the deploy reads become typed
// resources; every other type is kept as written (Bundle.Others).
func (l *loader) decodeResources() {
	at := dyn.NewPath("resources")
	res := l.tree.Get("resources")
	var rs resourcesSection
	normalized, ds := dyn.DecodeWith(res, &rs, at, l.decodeOptions(dyn.DecodeOptions{AllowReferences: true}))
	l.extendNew(ds)
	if normalized.IsValid() {
		l.setTree(at, normalized)
	}
	loc := func(kind, key string) diag.Location {
		return dyn.LocationOf(l.tree, at.Key(kind).Key(key))
	}
	l.b.Jobs = map[string]*Job{}
	for key, c := range rs.Jobs {
		if c == nil {
			continue
		}
		s := c.JobSettings
		l.b.Jobs[key] = &Job{Key: key, Settings: &s, Permissions: permissions(c.Permissions), Location: loc(KindJobs, key)}
	}
	l.b.ServingEndpoints = map[string]*ServingEndpoint{}
	for key, c := range rs.ModelServingEndpoints {
		if c == nil {
			continue
		}
		r := c.CreateServingEndpoint
		l.b.ServingEndpoints[key] = &ServingEndpoint{Key: key, Request: &r, Permissions: permissions(c.Permissions), Location: loc(KindModelServingEndpoints, key)}
	}
	l.b.Models = map[string]*Model{}
	for key, c := range rs.Models {
		if c == nil {
			continue
		}
		r := c.CreateModelRequest
		l.b.Models[key] = &Model{Key: key, Request: &r, Permissions: permissions(c.Permissions), Location: loc(KindModels, key)}
	}
	l.b.RegisteredModels = map[string]*RegisteredModel{}
	for key, c := range rs.RegisteredModels {
		if c == nil {
			continue
		}
		r := c.CreateRegisteredModelRequest
		l.b.RegisteredModels[key] = &RegisteredModel{Key: key, Request: &r, Grants: c.Grants, Location: loc(KindRegisteredModels, key)}
	}
	l.b.Experiments = map[string]*Experiment{}
	for key, c := range rs.Experiments {
		if c == nil {
			continue
		}
		e := &ml.Experiment{Name: c.Name, ArtifactLocation: c.ArtifactLocation, Tags: c.Tags}
		l.b.Experiments[key] = &Experiment{Key: key, Experiment: e, Permissions: permissions(c.Permissions), Location: loc(KindExperiments, key)}
	}
	l.b.Others = l.otherResources()
}

// otherResources lists the resources of the types the deploy does not
// read, in the CLI's type order and by key, named as the workspace will
// name them.
func (l *loader) otherResources() []*OtherResource {
	var out []*OtherResource
	for _, k := range allKinds {
		if deployedKinds[k.Kind] {
			continue
		}
		l.eachResource(k.Kind, func(key string, at dyn.Path, v dyn.Value) {
			var parts []string
			for _, f := range k.NameFields {
				if s, ok := v.Get(f).Text(); ok && s != "" {
					parts = append(parts, s)
				}
			}
			out = append(out, &OtherResource{
				Kind: k.Kind, Key: key, Name: strings.Join(parts, "."),
				Location: dyn.LocationOf(l.tree, at),
			})
		})
	}
	return out
}

// validateResources holds the checks the API would otherwise make at
// deploy time, in a stable order (kinds, then keys sorted).
func (l *loader) validateResources() {
	for _, key := range sortedKeys(l.b.Jobs) {
		l.validateJob(key, l.b.Jobs[key])
	}
	for _, key := range sortedKeys(l.b.Models) {
		m := l.b.Models[key]
		at := dyn.NewPath("resources", KindModels, key)
		l.requireName(at, m.Request.Name, "model")
		l.validatePermissions(at, m.Permissions)
	}
	for _, key := range sortedKeys(l.b.RegisteredModels) {
		l.validateRegisteredModel(key, l.b.RegisteredModels[key])
	}
	l.checkOneRegistry()
	for _, key := range sortedKeys(l.b.Experiments) {
		e := l.b.Experiments[key]
		at := dyn.NewPath("resources", KindExperiments, key)
		if l.requireName(at, e.Experiment.Name, "experiment") && !strings.HasPrefix(e.Experiment.Name, "/") {
			l.errorAt(l.valueOrParent(at.Key("name")), at.Key("name"), "experiment name %q must be an absolute workspace path such as /Users/<user>/<name>", e.Experiment.Name)
		}
		l.validatePermissions(at, e.Permissions)
	}
	for _, key := range sortedKeys(l.b.ServingEndpoints) {
		l.validateEndpoint(key, l.b.ServingEndpoints[key])
	}
	l.validatePermissions(dyn.NewPath("permissions"), l.b.Permissions)
}

// valueOrParent returns the value at p, or a value located at its nearest
// existing ancestor, for diagnostics about missing settings.
func (l *loader) valueOrParent(p dyn.Path) dyn.Value {
	v := dyn.GetPath(l.tree, p)
	if v.IsValid() {
		return v
	}
	return dyn.Nil(dyn.LocationOf(l.tree, p))
}

func (l *loader) requireName(at dyn.Path, name, what string) bool {
	if strings.TrimSpace(name) != "" {
		return true
	}
	l.errorAt(l.valueOrParent(at.Key("name")), at.Key("name"), "%s %q has no name", what, at[len(at)-1].KeyName())
	return false
}

func (l *loader) validatePermissions(at dyn.Path, perms []Permission) {
	for i, p := range perms {
		pa := at.Key("permissions").Index(i)
		if len(at) == 1 {
			pa = at.Index(i)
		}
		n := 0
		for _, s := range []string{p.UserName, p.GroupName, p.ServicePrincipalName} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			l.errorAt(l.valueOrParent(pa), pa, "a permission must name exactly one of user_name, group_name and service_principal_name")
		}
		if p.Level == "" {
			l.errorAt(l.valueOrParent(pa), pa.Key("level"), "a permission needs a level such as CAN_VIEW or CAN_MANAGE")
		}
	}
}

func (l *loader) validateJob(key string, j *Job) {
	at := dyn.NewPath("resources", KindJobs, key)
	s := j.Settings
	if len(s.Tasks) == 0 {
		l.add(diag.Diagnostic{
			Severity:  diag.Recommendation,
			Summary:   fmt.Sprintf("job %q has no tasks", key),
			Locations: []diag.Location{j.Location},
			Paths:     []string{at.Key("tasks").String()},
		})
	}
	clusters := map[string]bool{}
	for i, c := range s.JobClusters {
		ca := at.Key("job_clusters").Index(i).Key("job_cluster_key")
		if clusters[c.JobClusterKey] {
			l.errorAt(l.valueOrParent(ca), ca, "job %q defines job cluster %q twice", key, c.JobClusterKey)
		}
		clusters[c.JobClusterKey] = true
	}
	tasks := map[string]bool{}
	for i, t := range s.Tasks {
		ta := at.Key("tasks").Index(i).Key("task_key")
		if tasks[t.TaskKey] {
			l.errorAt(l.valueOrParent(ta), ta, "job %q defines task %q twice", key, t.TaskKey)
		}
		tasks[t.TaskKey] = true
	}
	for i, t := range s.Tasks {
		ta := at.Key("tasks").Index(i)
		for j, dep := range t.DependsOn {
			da := ta.Key("depends_on").Index(j).Key("task_key")
			if !tasks[dep.TaskKey] {
				l.errorAt(l.valueOrParent(da), da, "task %q depends on task %q, which job %q does not define", t.TaskKey, dep.TaskKey, key)
			}
		}
		if t.JobClusterKey != "" && !clusters[t.JobClusterKey] {
			ca := ta.Key("job_cluster_key")
			l.errorAt(l.valueOrParent(ca), ca, "task %q uses job cluster %q, which job %q does not define", t.TaskKey, t.JobClusterKey, key)
		}
	}
	params := map[string]bool{}
	for i, p := range s.Parameters {
		pa := at.Key("parameters").Index(i).Key("name")
		if params[p.Name] {
			l.errorAt(l.valueOrParent(pa), pa, "job %q defines parameter %q twice", key, p.Name)
		}
		params[p.Name] = true
	}
	l.validatePermissions(at, j.Permissions)
}

// endpointName is the API's rule for serving endpoint names.
var endpointName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// validateEndpoint checks what the serving API would reject: the name,
// served entities that are complete and unique, and traffic routes that
// name served entities and add up to 100.
func (l *loader) validateEndpoint(key string, e *ServingEndpoint) {
	at := dyn.NewPath("resources", KindModelServingEndpoints, key)
	r := e.Request
	if l.requireName(at, r.Name, "serving endpoint") && !endpointName.MatchString(r.Name) {
		l.errorAt(l.valueOrParent(at.Key("name")), at.Key("name"), "serving endpoint name %q may only hold letters, digits, dashes and underscores", r.Name)
	}
	l.validatePermissions(at, e.Permissions)
	cfgAt := at.Key("config")
	if r.Config == nil || (len(r.Config.ServedEntities) == 0 && len(r.Config.ServedModels) == 0) {
		l.errorAt(l.valueOrParent(cfgAt.Key("served_entities")), cfgAt.Key("served_entities"), "serving endpoint %q serves nothing: config.served_entities is empty", key)
		return
	}
	names := map[string]bool{}
	var order []string
	for i, se := range r.Config.ServedEntities {
		sa := cfgAt.Key("served_entities").Index(i)
		if se.ExternalModel == nil {
			if se.EntityName == "" {
				l.errorAt(l.valueOrParent(sa.Key("entity_name")), sa.Key("entity_name"), "served entity %d of endpoint %q needs entity_name (or external_model)", i, key)
			} else if se.EntityVersion == "" {
				l.errorAt(l.valueOrParent(sa.Key("entity_version")), sa.Key("entity_version"), "served entity %q of endpoint %q needs entity_version", se.EntityName, key)
			}
			if se.WorkloadSize != "" && (se.MinProvisionedConcurrency != 0 || se.MaxProvisionedConcurrency != 0) {
				l.errorAt(l.valueOrParent(sa.Key("workload_size")), sa.Key("workload_size"), "served entity of endpoint %q sets both workload_size and provisioned concurrency; use one", key)
			}
		}
		name := servedEntityName(se.Name, se.EntityName, se.EntityVersion, se.ExternalModel != nil)
		if names[name] {
			l.errorAt(l.valueOrParent(sa), sa.Key("name"), "endpoint %q serves two entities named %q; give each a distinct name", key, name)
		}
		names[name] = true
		order = append(order, name)
	}
	for i, sm := range r.Config.ServedModels {
		name := servedEntityName(sm.Name, sm.ModelName, sm.ModelVersion, false)
		if names[name] {
			sa := cfgAt.Key("served_models").Index(i)
			l.errorAt(l.valueOrParent(sa), sa.Key("name"), "endpoint %q serves two entities named %q; give each a distinct name", key, name)
		}
		names[name] = true
		order = append(order, name)
	}
	tc := r.Config.TrafficConfig
	if tc == nil || len(tc.Routes) == 0 {
		if len(order) > 1 {
			l.add(diag.Diagnostic{
				Severity:  diag.Recommendation,
				Summary:   fmt.Sprintf("serving endpoint %q serves %d entities but has no traffic_config", key, len(order)),
				Detail:    "Add traffic_config.routes so the split between " + strings.Join(order, ", ") + " is explicit.",
				Locations: []diag.Location{dyn.LocationOf(l.tree, cfgAt)},
				Paths:     []string{cfgAt.Key("traffic_config").String()},
			})
		}
		return
	}
	routesAt := cfgAt.Key("traffic_config").Key("routes")
	sum := 0
	for i, route := range tc.Routes {
		ra := routesAt.Index(i)
		target := route.ServedEntityName
		field := "served_entity_name"
		if target == "" {
			target, field = route.ServedModelName, "served_model_name"
		}
		switch {
		case target == "":
			l.errorAt(l.valueOrParent(ra), ra.Key("served_entity_name"), "traffic route %d of endpoint %q names no served entity", i, key)
		case !names[target]:
			l.add(diag.Diagnostic{
				Severity:  diag.Error,
				Summary:   fmt.Sprintf("traffic route of endpoint %q names served entity %q, which the endpoint does not serve", key, target),
				Detail:    "Served entities: " + strings.Join(order, ", ") + ". A served entity without a name is called <entity_name>-<entity_version>.",
				Locations: []diag.Location{dyn.LocationOf(l.tree, ra.Key(field))},
				Paths:     []string{ra.Key(field).String()},
			})
		}
		if route.TrafficPercentage < 0 || route.TrafficPercentage > 100 {
			pa := ra.Key("traffic_percentage")
			l.errorAt(l.valueOrParent(pa), pa, "traffic_percentage %d is outside 0..100", route.TrafficPercentage)
		}
		sum += route.TrafficPercentage
	}
	if sum != 100 {
		l.add(diag.Diagnostic{
			Severity:  diag.Error,
			Summary:   fmt.Sprintf("traffic routes of endpoint %q sum to %d%%, not 100%%", key, sum),
			Detail:    "Every request must go somewhere: make the traffic_percentage values add up to exactly 100.",
			Locations: []diag.Location{dyn.LocationOf(l.tree, routesAt)},
			Paths:     []string{routesAt.String()},
		})
	}
}

// servedEntityName is the name the API gives a served entity: its own
// name, or <entity_name>-<entity_version> for a registry model (with the
// dots of a Unity Catalog name replaced, as the API does).
func servedEntityName(name, entity, version string, external bool) string {
	if name != "" || external {
		return name
	}
	return strings.ReplaceAll(entity, ".", "-") + "-" + version
}
