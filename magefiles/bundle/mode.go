package bundle

import (
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/dyn"
)

// Deployment holds the deployment settings a deploy engine honours.
type Deployment struct {
	// Lock is whether deploys take the workspace lock; development mode
	// turns it off unless bundle.deployment.lock.enabled is true.
	Lock bool
	// FailOnActiveRuns asks the deploy to fail when jobs are running.
	FailOnActiveRuns bool
}

const (
	pauseStatusPaused   = "PAUSED"
	pauseStatusUnpaused = "UNPAUSED"
	// developmentConcurrentRuns is the CLI's development default for
	// jobs_max_concurrent_runs.
	developmentConcurrentRuns = 4
)

// requireBundleName checks bundle.name before anything refers to it (the
// default root path does).
//
// As in the CLI, a missing name is an error when the default root path
// needs it (bundle/config/mutator/default_workspace_root.go) and the
// required-field warning when the target sets workspace.root_path.
func (l *loader) requireBundleName() {
	at := dyn.NewPath("bundle", "name")
	v := dyn.GetPath(l.tree, at)
	if s, ok := v.Text(); ok && strings.TrimSpace(s) != "" && v.Kind() != dyn.KindNil {
		return
	}
	if rp, _ := dyn.GetPath(l.tree, dyn.NewPath("workspace", "root_path")).AsString(); rp != "" {
		l.add(diag.Diagnostic{
			Severity:  diag.Warning,
			Summary:   `required field "name" is not set`,
			Locations: []diag.Location{dyn.LocationOf(l.tree, dyn.NewPath("bundle"))},
			Paths:     []string{"bundle"},
		})
		return
	}
	l.add(diag.Diagnostic{
		Severity:  diag.Error,
		Summary:   "bundle.name is required",
		Detail:    "Name the bundle in databricks.yml:\n\n  bundle:\n    name: my-bundle",
		Locations: []diag.Location{dyn.LocationOf(l.tree, at)},
		Paths:     []string{at.String()},
	})
}

// decodeSettings decodes everything but resources strictly, now that
// values are interpolated, and fills the Bundle's settings.
func (l *loader) decodeSettings() {
	m, _ := l.tree.AsMap()
	m = m.Clone()
	m.Delete("resources")
	var schema rootSchema
	_, ds := dyn.DecodeWith(dyn.Map(m, l.tree.Location()), &schema, nil, l.decodeOptions(dyn.DecodeOptions{AllowReferences: true}))
	l.extendNew(ds)

	l.b.Name = schema.Bundle.Name
	l.b.Mode = Mode(schema.Bundle.Mode)
	l.b.Presets = schema.Presets
	l.b.Permissions = permissions(schema.Permissions)
	l.b.RunAs = schema.RunAs
	l.b.Sync = Sync{Paths: schema.Sync.Paths, Include: schema.Sync.Include, Exclude: schema.Sync.Exclude}
	l.b.Deployment = Deployment{Lock: true, FailOnActiveRuns: schema.Bundle.Deployment.FailOnActiveRuns}
	if e := schema.Bundle.Deployment.Lock.Enabled; e != nil {
		l.b.Deployment.Lock = *e
	}

	ws := schema.Workspace
	// Absolute paths outside /Workspace and /Volumes live under /Workspace,
	// as in the CLI (so /Users/x is /Workspace/Users/x).
	for _, f := range []struct {
		field string
		value *string
	}{
		{"root_path", &ws.RootPath}, {"file_path", &ws.FilePath}, {"artifact_path", &ws.ArtifactPath},
		{"state_path", &ws.StatePath}, {"resource_path", &ws.ResourcePath},
	} {
		p := *f.value
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/Workspace/") || strings.HasPrefix(p, "/Volumes/") {
			continue
		}
		*f.value = "/Workspace" + p
		at := dyn.NewPath("workspace", f.field)
		l.setTree(at, dyn.String(*f.value, dyn.LocationOf(l.tree, at)))
	}
	l.b.Workspace = Workspace{
		Host:         ws.Host,
		Profile:      ws.Profile,
		RootPath:     ws.RootPath,
		FilePath:     ws.FilePath,
		ArtifactPath: ws.ArtifactPath,
		StatePath:    ws.StatePath,
		ResourcePath: ws.ResourcePath,
	}
	if l.userKnown {
		l.b.Workspace.CurrentUser = l.user
		l.b.Workspace.ShortName = l.shortName
	}
	l.checkWorkspaceHost()
}

func (l *loader) checkWorkspaceHost() {
	at := dyn.NewPath("workspace", "host")
	hv := dyn.GetPath(l.tree, at)
	host := l.b.Workspace.Host
	if host == "" {
		l.add(diag.Diagnostic{
			Severity: diag.Recommendation,
			Summary:  fmt.Sprintf("target %q sets no workspace.host; the environment (DATABRICKS_HOST or a profile) decides where it deploys", l.target),
			Paths:    []string{at.String()},
		})
		return
	}
	u, err := url.Parse(host)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		l.errorAt(hv, at, "workspace.host %q is not a URL such as https://adb-1234567890123456.7.azuredatabricks.net", host)
	}
}

// applyMode validates the mode and, for development, fills the presets the
// CLI fills: a "[dev <user>] " name prefix, a dev tag, at most 4
// concurrent runs per job, paused schedules and triggers, and no
// deployment lock.
func (l *loader) applyMode() {
	modeAt := dyn.NewPath("bundle", "mode")
	switch l.b.Mode {
	case ModeNone, ModeProduction:
		return
	case ModeDevelopment:
	default:
		l.errorAt(dyn.GetPath(l.tree, modeAt), modeAt, "unsupported value %q for mode: must be development or production", string(l.b.Mode))
		return
	}
	loc := dyn.LocationOf(l.tree, modeAt)
	lockEnabled, _ := dyn.GetPath(l.tree, dyn.NewPath("bundle", "deployment", "lock", "enabled")).AsBool()
	if !lockEnabled {
		l.b.Deployment.Lock = false
	}
	p := &l.b.Presets
	if p.NamePrefix == "" {
		p.NamePrefix = "[dev " + l.shortName + "] "
		l.setTree(dyn.NewPath("presets", "name_prefix"), dyn.String(p.NamePrefix, loc))
	}
	if p.Tags == nil {
		p.Tags = map[string]string{}
	}
	if _, ok := p.Tags["dev"]; !ok {
		p.Tags["dev"] = l.shortName
		l.setTree(dyn.NewPath("presets", "tags", "dev"), dyn.String(l.shortName, loc))
	}
	if p.JobsMaxConcurrentRuns == 0 {
		p.JobsMaxConcurrentRuns = developmentConcurrentRuns
		l.setTree(dyn.NewPath("presets", "jobs_max_concurrent_runs"), dyn.Int(developmentConcurrentRuns, loc))
	}
	if p.TriggerPauseStatus == "" {
		p.TriggerPauseStatus = pauseStatusPaused
		l.setTree(dyn.NewPath("presets", "trigger_pause_status"), dyn.String(pauseStatusPaused, loc))
	}
	if p.PipelinesDevelopment == nil || *p.PipelinesDevelopment {
		enabled := true
		p.PipelinesDevelopment = &enabled
		l.setTree(dyn.NewPath("presets", "pipelines_development"), dyn.Bool(true, loc))
	}
}

// checkMode holds the rules of each mode. Development: paths and the name
// prefix must be per user, and presets may not unpause triggers.
// Production: the target must set workspace.root_path itself (a
// recommendation instead when every job has run_as or a service principal
// deploys, as in the CLI), no pipeline in development, and a cluster
// override is a warning.
func (l *loader) checkMode() {
	tps := l.b.Presets.TriggerPauseStatus
	tpsAt := dyn.NewPath("presets", "trigger_pause_status")
	if tps != "" && tps != pauseStatusPaused && tps != pauseStatusUnpaused {
		l.errorAt(dyn.GetPath(l.tree, tpsAt), tpsAt, "invalid presets.trigger_pause_status %q: must be PAUSED or UNPAUSED", tps)
	}
	if cid, _ := dyn.GetPath(l.tree, dyn.NewPath("bundle", "cluster_id")).AsString(); cid != "" && l.b.Mode == ModeProduction {
		// The CLI applies the override in any mode and warns in production
		// (bundle/config/mutator/resourcemutator/override_compute.go).
		at := dyn.NewPath("bundle", "cluster_id")
		l.add(diag.Diagnostic{
			Severity:  diag.Warning,
			Summary:   "Setting a cluster override for a target that uses 'mode: production' is not recommended",
			Detail:    "It is recommended to always use the same compute for production target for consistency.",
			Locations: []diag.Location{dyn.LocationOf(l.tree, at)},
			Paths:     []string{at.String()},
		})
	}
	switch l.b.Mode {
	case ModeDevelopment:
		l.checkDevelopment()
	case ModeProduction:
		l.checkProduction()
	}
}

func (l *loader) checkDevelopment() {
	if l.b.Presets.TriggerPauseStatus == pauseStatusUnpaused {
		at := dyn.NewPath("presets", "trigger_pause_status")
		l.errorAt(dyn.GetPath(l.tree, at), at, "target with 'mode: development' cannot set trigger pause status to UNPAUSED by default")
	}
	contains := func(s string) bool {
		return strings.Contains(s, l.user.UserName) || strings.Contains(s, l.shortName)
	}
	ws := l.b.Workspace
	for _, f := range []struct{ field, value string }{
		{"root_path", ws.RootPath}, {"file_path", ws.FilePath}, {"resource_path", ws.ResourcePath},
		{"artifact_path", ws.ArtifactPath}, {"state_path", ws.StatePath},
	} {
		if f.value == "" || contains(f.value) {
			continue
		}
		at := dyn.NewPath("workspace", f.field)
		l.add(diag.Diagnostic{
			Severity:  diag.Error,
			Summary:   fmt.Sprintf("%s must start with '~/' or contain the current username to ensure uniqueness when using 'mode: development'", f.field),
			Detail:    fmt.Sprintf("It is %s; every developer deploys their own copy, so the path must be theirs (for example ~/.bundle/${bundle.name}/${bundle.target}).", f.value),
			Locations: []diag.Location{dyn.LocationOf(l.tree, at)},
			Paths:     []string{at.String()},
		})
		break
	}
	if p := l.b.Presets.NamePrefix; p != "" && !contains(p) {
		at := dyn.NewPath("presets", "name_prefix")
		l.errorAt(dyn.GetPath(l.tree, at), at, "prefix should contain the current username or ${workspace.current_user.short_name} to ensure uniqueness when using 'mode: development'")
	}
}

func (l *loader) checkProduction() {
	forEachResource(l, "pipelines", func(at dyn.Path, p dyn.Value) dyn.Value {
		if dev, _ := p.Get("development").AsBool(); dev {
			l.errorAt(p.Get("development"), at.Key("development"), "target with 'mode: production' cannot include a pipeline with 'development: true'")
		}
		return p
	})
	if l.targetRootPath {
		return
	}
	advice := "set 'workspace.root_path' to make sure only one copy is deployed"
	user := l.user.UserName
	if user == "" {
		user = l.opts.CurrentUser
	}
	if user == "" || user == OfflineUser {
		user = "<user>"
	}
	detail := "A common practice is to use a username or principal name in this path, i.e. use\n\n" +
		"  root_path: /Workspace/Users/" + user + "/.bundle/${bundle.name}/${bundle.target}"
	modeAt := dyn.NewPath("bundle", "mode")
	d := diag.Diagnostic{
		Severity:  diag.Error,
		Summary:   "target with 'mode: production' must " + advice,
		Detail:    detail,
		Locations: []diag.Location{dyn.LocationOf(l.tree, modeAt)},
		Paths:     []string{dyn.NewPath("targets", l.target, "workspace", "root_path").String()},
	}
	deployer := l.opts.CurrentUser
	if l.userKnown {
		deployer = l.user.UserName
	}
	switch {
	case l.allJobsRunAs() || isServicePrincipal(deployer):
		d.Severity = diag.Recommendation
		d.Summary = "target with 'mode: production' should " + advice
	case deployer == "" || deployer == OfflineUser:
		// The CLI's verdict depends on who deploys: an error for a user, a
		// recommendation for a service principal. Offline that is unknown,
		// so this says both; the deploy, which knows, decides.
		d.Severity = diag.Warning
		d.Summary = "target with 'mode: production' must " + advice + " unless a service principal deploys it"
		d.Detail += "\n\nThe deploying identity is not known offline: deployed by a user, this target is refused."
	}
	l.add(d)
}

// allJobsRunAs reports whether every job has run_as, set on the job or
// inherited from the top level.
func (l *loader) allJobsRunAs() bool {
	if l.b.RunAs != nil {
		return true
	}
	jobs, _ := l.tree.Get("resources").Get("jobs").AsMap()
	for _, p := range jobs.Pairs() {
		if !p.Value.Get("run_as").IsValid() {
			return false
		}
	}
	return true
}

// overrideCompute runs every job task on bundle.cluster_id (the CLI's
// compute override, in any mode): that cluster replaces job clusters, new
// clusters and serverless environments.
func (l *loader) overrideCompute() {
	cid := dyn.GetPath(l.tree, dyn.NewPath("bundle", "cluster_id"))
	if s, _ := cid.AsString(); s == "" {
		return
	}
	forEachResource(l, KindJobs, func(_ dyn.Path, job dyn.Value) dyn.Value {
		tasks, ok := job.Get("tasks").AsSeq()
		if !ok {
			return job
		}
		out := make([]dyn.Value, len(tasks))
		for i, t := range tasks {
			m, ok := t.AsMap()
			if !ok {
				out[i] = t
				continue
			}
			m = m.Clone()
			for _, k := range []string{"new_cluster", "job_cluster_key", "environment_key"} {
				m.Delete(k)
			}
			m.SetString("existing_cluster_id", cid)
			out[i] = dyn.Map(m, t.Location())
		}
		return setChild(job, "tasks", dyn.Seq(out, job.Get("tasks").Location()))
	})
}

// applyPresets applies the presets to every resource, as the CLI's
// ApplyPresets does: the name prefix (normalized to dev_<user>_ for
// serving endpoints and Unity Catalog models, which allow no spaces or
// brackets), tags where the resource has none of that key, the default
// max_concurrent_runs and pause status of jobs.
func (l *loader) applyPresets() {
	p := l.b.Presets
	prefix := p.NamePrefix
	tagKeys := sortedKeys(p.Tags)
	forEachResource(l, KindJobs, func(at dyn.Path, job dyn.Value) dyn.Value {
		job = prefixField(job, "name", prefix)
		if len(tagKeys) > 0 {
			tags := job.Get("tags")
			tm, ok := tags.AsMap()
			if !ok {
				tm = dyn.NewMapping()
				tags = dyn.Map(tm, job.Location())
			} else {
				tm = tm.Clone()
			}
			for _, k := range tagKeys {
				if s, _ := tm.Get(k); s.Kind() == dyn.KindInvalid || s.MustString() == "" {
					tm.SetString(k, dyn.String(p.Tags[k], tags.Location()))
				}
			}
			job = setChild(job, "tags", dyn.Map(tm, tags.Location()))
		}
		if p.JobsMaxConcurrentRuns != 0 {
			if n, _ := job.Get("max_concurrent_runs").AsInt(); n == 0 && !isNonZeroText(job.Get("max_concurrent_runs")) {
				job = setChild(job, "max_concurrent_runs", dyn.Int(int64(p.JobsMaxConcurrentRuns), job.Location()))
			}
		}
		if p.TriggerPauseStatus != "" {
			for _, field := range []string{"schedule", "continuous", "trigger"} {
				block := job.Get(field)
				if _, ok := block.AsMap(); !ok {
					continue
				}
				if ps := block.Get("pause_status"); ps.IsValid() && ps.Kind() != dyn.KindNil {
					continue
				}
				job = setChild(job, field, setChild(block, "pause_status", dyn.String(p.TriggerPauseStatus, block.Location())))
			}
		}
		return job
	})
	forEachResource(l, KindModels, func(at dyn.Path, m dyn.Value) dyn.Value {
		return addTagList(prefixField(m, "name", prefix), p.Tags, tagKeys)
	})
	forEachResource(l, KindExperiments, func(at dyn.Path, e dyn.Value) dyn.Value {
		if name, ok := e.Get("name").AsString(); ok && prefix != "" {
			dir, base := path.Split(name)
			e = setChild(e, "name", dyn.String(dir+prefix+base, e.Get("name").Location()))
		}
		return addTagList(e, p.Tags, tagKeys)
	})
	normalized := NormalizePrefix(prefix)
	forEachResource(l, KindModelServingEndpoints, func(at dyn.Path, e dyn.Value) dyn.Value {
		return prefixField(e, "name", normalized)
	})
	forEachResource(l, KindRegisteredModels, func(at dyn.Path, m dyn.Value) dyn.Value {
		return prefixField(m, "name", normalized)
	})
}

func isNonZeroText(v dyn.Value) bool {
	s, ok := v.AsString()
	return ok && s != "" && s != "0"
}

// NormalizePrefix turns a display prefix such as "[dev alice] " into the
// form names without spaces or brackets use: "dev_alice_".
func NormalizePrefix(prefix string) string {
	trimmed := strings.TrimSpace(prefix)
	if trimmed == "" {
		return ""
	}
	core := strings.TrimSpace(strings.NewReplacer("[", "", "]", "").Replace(trimmed))
	out := normalizeName(core)
	if strings.HasSuffix(trimmed, "]") {
		out += "_"
	}
	return out
}

// forEachResource rewrites every resource of one kind in the tree.
func forEachResource(l *loader, kind string, fn func(dyn.Path, dyn.Value) dyn.Value) {
	m, ok := l.tree.Get("resources").Get(kind).AsMap()
	if !ok {
		return
	}
	for _, key := range m.Keys() {
		at := dyn.NewPath("resources", kind, key)
		v := dyn.GetPath(l.tree, at)
		if _, ok := v.AsMap(); !ok {
			continue
		}
		l.setTree(at, fn(at, v))
	}
}

// setChild returns map v with key set to c.
func setChild(v dyn.Value, key string, c dyn.Value) dyn.Value {
	out, err := dyn.SetPath(v, dyn.NewPath(key), c)
	if err != nil {
		return v
	}
	return out
}

func prefixField(v dyn.Value, field, prefix string) dyn.Value {
	if prefix == "" {
		return v
	}
	name, ok := v.Get(field).AsString()
	if !ok {
		return v
	}
	return setChild(v, field, dyn.String(prefix+name, v.Get(field).Location()))
}

// addTagList appends preset tags to a list of {key, value} tags, unless
// the resource sets that key itself.
func addTagList(v dyn.Value, tags map[string]string, keys []string) dyn.Value {
	if len(keys) == 0 {
		return v
	}
	list := v.Get("tags")
	items, _ := list.AsSeq()
	have := map[string]bool{}
	for _, item := range items {
		if k, ok := item.Get("key").AsString(); ok {
			have[k] = true
		}
	}
	loc := list.Location()
	if !list.IsValid() {
		loc = v.Location()
	}
	out := append([]dyn.Value{}, items...)
	for _, k := range keys {
		if have[k] {
			continue
		}
		tm := dyn.NewMapping()
		tm.SetString("key", dyn.String(k, loc))
		tm.SetString("value", dyn.String(tags[k], loc))
		out = append(out, dyn.Map(tm, loc))
	}
	return setChild(v, "tags", dyn.Seq(out, loc))
}

// applyRunAs gives every job without run_as the top-level run_as. Like
// the CLI, a run_as identity other than the deploying user is an error
// when the bundle has serving endpoints, which cannot run as someone else.
func (l *loader) applyRunAs() {
	ra := l.b.RunAs
	if ra == nil {
		return
	}
	at := dyn.NewPath("run_as")
	v := l.tree.Get("run_as")
	// The CLI's checks and messages (resourcemutator/run_as.go).
	switch {
	case ra.UserName != "" && ra.ServicePrincipalName != "":
		l.errorAt(v, at, "run_as section cannot specify both user_name and service_principal_name")
		return
	case ra.UserName == "" && ra.ServicePrincipalName == "":
		l.errorAt(v, at, "run_as section must specify exactly one identity. Neither service_principal_name nor user_name is specified")
		return
	}
	forEachResource(l, KindJobs, func(_ dyn.Path, job dyn.Value) dyn.Value {
		if job.Get("run_as").IsValid() {
			return job
		}
		return setChild(job, "run_as", v)
	})
	// Offline validation does not know the deploying user; the check runs
	// when a real user is given.
	if !l.userKnown || l.user.UserName == OfflineUser || ra.Identity() == l.user.UserName {
		return
	}
	// Resources that always act as their owner (the CLI's list: serving
	// endpoints, quality monitors, apps, dashboards that embed credentials).
	for _, kind := range []string{KindModelServingEndpoints, "quality_monitors", "apps", "dashboards"} {
		m, ok := l.tree.Get("resources").Get(kind).AsMap()
		if !ok {
			continue
		}
		var keys []string
		for _, p := range m.Pairs() {
			if embed, _ := p.Value.Get("embed_credentials").AsBool(); kind != "dashboards" || embed {
				keys = append(keys, p.Key.MustString())
			}
		}
		if len(keys) == 0 {
			continue
		}
		sort.Strings(keys)
		l.add(diag.Diagnostic{
			Severity:  diag.Error,
			Summary:   fmt.Sprintf("%s do not support a setting a run_as user that is different from the owner", kind),
			Detail:    fmt.Sprintf("Current identity: %s. Run as identity: %s. Resources: %s. Set run_as on the jobs instead of the top level, or deploy as %s.", l.user.UserName, ra.Identity(), strings.Join(keys, ", "), ra.Identity()),
			Locations: []diag.Location{v.Location()},
			Paths:     []string{at.String()},
		})
	}
}

// checkHost compares the workspace the caller will use with the target's.
func (l *loader) checkHost() {
	if l.opts.Host == "" {
		return
	}
	if err := l.b.CheckHost(l.opts.Host); err != nil {
		at := dyn.NewPath("workspace", "host")
		l.add(diag.Diagnostic{
			Severity:  diag.Error,
			Summary:   fmt.Sprintf("workspace host mismatch: target %q deploys to %s, not %s", l.target, l.b.Workspace.Host, l.opts.Host),
			Detail:    "The credentials point at another workspace than the target. Set DATABRICKS_HOST (or the profile) for this target's workspace, or pick the target that matches.",
			Locations: []diag.Location{dyn.LocationOf(l.tree, at)},
			Paths:     []string{at.String()},
		})
	}
}
