package bundle

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/dyn"
)

// The CLI's checks of the sections around resources, each with the
// CLI's severity and, where a person reads it, its wording.

// applyCompat rewrites the deprecated spellings the CLI still reads:
// environments: is targets: (an error when both are written;
// mutator/environments_compat.go), and compute_id is cluster_id with a
// warning (mutator/compute_id_compat.go).
func (l *loader) applyCompat() {
	if env := l.tree.Get("environments"); env.IsValid() {
		if l.tree.Get("targets").IsValid() {
			l.errorAt(env, dyn.NewPath("environments"), "both 'environments' and 'targets' are specified; only 'targets' should be used: %s", env.Location())
		} else {
			m, _ := l.tree.AsMap()
			m = m.Clone()
			pair, _ := m.GetPair("environments")
			m.Delete("environments")
			m.Set(dyn.String("targets", pair.Key.Location()), env)
			l.tree = dyn.Map(m, l.tree.Location())
		}
	}
	warn := func(v dyn.Value, at dyn.Path) {
		l.add(diag.Diagnostic{
			Severity:  diag.Warning,
			Summary:   "compute_id is deprecated, please use cluster_id instead",
			Locations: []diag.Location{v.Location()},
			Paths:     []string{at.String()},
		})
	}
	if v := dyn.GetPath(l.tree, dyn.NewPath("bundle", "compute_id")); v.IsValid() {
		warn(v, dyn.NewPath("bundle", "compute_id"))
	}
	for _, name := range l.targetNames() {
		for _, at := range []dyn.Path{dyn.NewPath("targets", name, "compute_id"), dyn.NewPath("targets", name, "bundle", "compute_id")} {
			if v := dyn.GetPath(l.tree, at); v.IsValid() {
				warn(v, at)
			}
		}
	}
}

// checkNullResources refuses a resource key with no value
// (validate/all_resources_have_values.go): "jobs: {train: }" deploys
// nothing the author meant.
func (l *loader) checkNullResources() {
	res, ok := l.tree.Get("resources").AsMap()
	if !ok {
		return
	}
	for _, kp := range res.Pairs() {
		items, ok := kp.Value.AsMap()
		if !ok {
			continue
		}
		kind := kp.Key.MustString()
		for _, p := range items.Pairs() {
			if p.Value.Kind() == dyn.KindNil {
				key := p.Key.MustString()
				l.errorAt(p.Key, dyn.NewPath("resources", kind, key), "%s %s is not defined", strings.TrimSuffix(kind, "s"), key)
			}
		}
	}
}

// interpolation finds ${...} in script content.
var interpolation = regexp.MustCompile(`\$\{[^}]*\}`)

// checkScripts holds the CLI's rules for scripts: (validate/scripts.go):
// content is required and may not interpolate (the shell would see the
// text), and env may only use what is resolved before a script runs.
func (l *loader) checkScripts() {
	scripts, ok := l.tree.Get("scripts").AsMap()
	if !ok {
		return
	}
	res, _ := l.tree.Get("resources").AsMap()
	for _, p := range scripts.Pairs() {
		name := p.Key.MustString()
		at := dyn.NewPath("scripts", name)
		for _, kp := range res.Pairs() {
			if kp.Value.Get(name).IsValid() {
				l.errorAt(p.Key, at, "multiple resources or scripts have been defined with the same key: %s", name)
			}
		}
		content, _ := p.Value.Get("content").AsString()
		if strings.TrimSpace(content) == "" {
			l.errorAt(l.valueOrParent(at.Key("content")), at.Key("content"), "Script %s has no content", name)
			continue
		}
		if m := interpolation.FindString(content); m != "" {
			l.errorAt(p.Value.Get("content"), at.Key("content"), "Found %s in script %s.content. Interpolation syntax ${...} is not supported in script content", m, name)
		}
		env, _ := p.Value.Get("env").AsMap()
		for _, e := range env.Pairs() {
			s, _ := e.Value.AsString()
			for _, ref := range interpolation.FindAllString(s, -1) {
				inner := strings.TrimSuffix(strings.TrimPrefix(ref, "${"), "}")
				head, _, _ := strings.Cut(inner, ".")
				switch head {
				case "bundle", "workspace", "var", "variables":
					continue
				}
				key := e.Key.MustString()
				l.errorAt(e.Value, at.Key("env").Key(key), "%s cannot be used in scripts.%s.env.%s; only ${bundle.*}, ${workspace.*}, and ${var.*} are resolved before scripts execute", ref, name, key)
			}
		}
	}
}

// checkPython holds the CLI's rules for Python-defined resources
// (mutator/python/python_mutator.go) and says what this loader cannot do:
// run the databricks-bundles package that loads them.
func (l *loader) checkPython() {
	if v := dyn.GetPath(l.tree, dyn.NewPath("experimental", "pydabs")); v.IsValid() && v.Kind() != dyn.KindNil {
		l.errorAt(v, dyn.NewPath("experimental", "pydabs"), "experimental/pydabs is deprecated, use python instead")
	}
	top := l.tree.Get("python")
	exp := dyn.GetPath(l.tree, dyn.NewPath("experimental", "python"))
	if top.IsValid() && exp.IsValid() && !sameValue(top, exp) {
		l.errorAt(exp, dyn.NewPath("experimental", "python"), "'experimental/python' and 'python' configuration properties are mutually exclusive, use only 'python'")
	}
	py := top
	if !py.IsValid() {
		py = exp
	}
	var functions []string
	for _, field := range []string{"resources", "mutators"} {
		items, _ := py.Get(field).AsSeq()
		for _, item := range items {
			if s, ok := item.AsString(); ok {
				functions = append(functions, s)
			}
		}
	}
	if len(functions) == 0 {
		return
	}
	l.b.PythonFunctions = functions
	l.add(diag.Diagnostic{
		Severity:  diag.Warning,
		Summary:   "resources defined or changed in Python are not loaded here: " + strings.Join(functions, ", "),
		Detail:    "The Databricks CLI runs these functions (the databricks-bundles package) when it loads the bundle; this validator checks the YAML alone, and the sdk deploy engine refuses such a bundle. Deploy it with -engine=cli.",
		Locations: []diag.Location{py.Location()},
		Paths:     []string{"python"},
	})
}

// sameValue compares two values by their JSON form.
func sameValue(a, b dyn.Value) bool {
	ja, errA := a.MarshalJSON()
	jb, errB := b.MarshalJSON()
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// bundlePermissionLevels are the levels top-level permissions may use;
// the CLI maps each onto every resource's own levels
// (resourcemutator/apply_bundle_permissions.go).
var bundlePermissionLevels = []string{"CAN_MANAGE", "CAN_VIEW", "CAN_RUN"}

func (l *loader) checkBundlePermissions() {
	items, _ := l.tree.Get("permissions").AsSeq()
	for i, item := range items {
		level, ok := item.Get("level").AsString()
		if !ok || dyn.HasReference(level) {
			continue
		}
		valid := false
		for _, allowed := range bundlePermissionLevels {
			valid = valid || level == allowed
		}
		if !valid {
			at := dyn.NewPath("permissions").Index(i).Key("level")
			l.errorAt(item.Get("level"), at, "invalid permission level: %s, allowed values: [%s]", level, strings.Join(bundlePermissionLevels, ", "))
		}
	}
}

// checkRequiredSettings are the required settings the CLI refuses rather
// than warns about (validate/required.go): a dashboard's display_name and
// warehouse_id, a SQL warehouse's name, a grant's principal and
// privileges, a secret scope permission's principal.
func (l *loader) checkRequiredSettings() {
	each := l.eachResource
	missing := func(v dyn.Value, field string) bool {
		s, ok := v.Get(field).Text()
		return !ok || strings.TrimSpace(s) == ""
	}
	each("dashboards", func(_ string, at dyn.Path, v dyn.Value) {
		for _, f := range []string{"display_name", "warehouse_id"} {
			if missing(v, f) {
				l.errorAt(l.valueOrParent(at.Key(f)), at.Key(f), "dashboard %s is required", f)
			}
		}
	})
	each("sql_warehouses", func(_ string, at dyn.Path, v dyn.Value) {
		if missing(v, "name") {
			l.errorAt(l.valueOrParent(at.Key("name")), at.Key("name"), "sql_warehouse name is required")
		}
	})
	each("secret_scopes", func(_ string, at dyn.Path, v dyn.Value) {
		perms, _ := v.Get("permissions").AsSeq()
		for i, p := range perms {
			if missing(p, "user_name") && missing(p, "group_name") && missing(p, "service_principal_name") {
				pa := at.Key("permissions").Index(i)
				l.errorAt(p, pa, "secret scope permission principal is required")
			}
		}
	})
	for _, kind := range []string{"catalogs", "schemas", "volumes", "external_locations", "vector_search_indexes", "secrets"} {
		each(kind, func(_ string, at dyn.Path, v dyn.Value) {
			grants, _ := v.Get("grants").AsSeq()
			for i, g := range grants {
				ga := at.Key("grants").Index(i)
				if missing(g, "principal") {
					l.errorAt(g, ga.Key("principal"), "grant principal is required")
				}
				if privs, _ := g.Get("privileges").AsSeq(); len(privs) == 0 {
					l.errorAt(g, ga.Key("privileges"), "grant privileges is required")
				}
			}
		})
	}
}

// eachResource calls fn for every resource of one kind, by key.
func (l *loader) eachResource(kind string, fn func(key string, at dyn.Path, v dyn.Value)) {
	m, ok := l.tree.Get("resources").Get(kind).AsMap()
	if !ok {
		return
	}
	keys := m.Keys()
	sort.Strings(keys)
	for _, key := range keys {
		v, _ := m.Get(key)
		fn(key, dyn.NewPath("resources", kind, key), v)
	}
}

// sdkEngineKinds names the resource types of the bundle that the sdk
// deploy engine does not deploy, in the CLI's order, for the refusal the
// engine gives before any write.
func (b *Bundle) sdkEngineKinds() []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range b.Others {
		if !seen[o.Kind] {
			seen[o.Kind] = true
			out = append(out, o.Kind)
		}
	}
	return out
}

// UndeployableBySDK says why the sdk engine cannot deploy this target, or
// "" when it can: resource types it does not deploy, resources defined in
// Python, lookups nobody resolved.
func (b *Bundle) UndeployableBySDK() string {
	var why []string
	if kinds := b.sdkEngineKinds(); len(kinds) > 0 {
		why = append(why, "resource types it does not deploy: "+strings.Join(kinds, ", "))
	}
	if len(b.PythonFunctions) > 0 {
		why = append(why, "resources defined in Python: "+strings.Join(b.PythonFunctions, ", "))
	}
	if len(b.PendingLookups) > 0 {
		var names []string
		for _, lk := range b.PendingLookups {
			names = append(names, fmt.Sprintf("%s (%s %q)", lk.Variable, lk.Kind, lk.Name))
		}
		why = append(why, "variable lookups not resolved: "+strings.Join(names, ", "))
	}
	return strings.Join(why, "; ")
}
