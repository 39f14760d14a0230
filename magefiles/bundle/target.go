package bundle

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/dyn"
)

// selectTarget picks the target named in the options, or the one marked
// default: true, or the only one. A bundle without targets gets an
// implicit target named "default", as in the CLI.
func (l *loader) selectTarget() {
	names := l.targetNames()
	targets := l.tree.Get("targets")
	want := l.opts.Target
	if len(names) == 0 {
		if want != "" && want != defaultTargetName {
			l.add(diag.Diagnostic{
				Severity: diag.Error,
				Summary:  fmt.Sprintf("target %q is not defined", want),
				Detail:   "The bundle defines no targets; omit the target name or add a targets: section.",
			})
			return
		}
		l.target = defaultTargetName
		return
	}
	if want != "" {
		if targets.Get(want).IsValid() {
			l.target = want
			return
		}
		d := diag.Diagnostic{
			Severity: diag.Error,
			Summary:  fmt.Sprintf("target %q is not defined", want),
			Detail:   "Defined targets: " + strings.Join(sortedCopy(names), ", ") + ".",
			Paths:    []string{"targets"},
		}
		if pair, ok := l.rootPair("targets"); ok {
			d.Locations = []diag.Location{pair.Key.Location()}
		}
		if s := dyn.Suggest(want, names); s != "" {
			d.Summary += fmt.Sprintf(" (did you mean %q?)", s)
		}
		l.add(d)
		return
	}
	defaults, _, _ := l.defaultTargets()
	switch {
	case len(defaults) == 1:
		l.target = defaults[0]
	case len(defaults) > 1:
		// checkDefaultTargets reported it; no target can be picked.
	case len(names) == 1:
		l.target = names[0]
	default:
		l.add(diag.Diagnostic{
			Severity: diag.Error,
			Summary:  "no target selected",
			Detail:   "Pass a target (" + strings.Join(names, ", ") + ") or mark one with default: true.",
			Paths:    []string{"targets"},
		})
	}
}

// defaultTargets are the targets marked default: true, with where.
func (l *loader) defaultTargets() (names []string, locs []diag.Location, paths []string) {
	targets := l.tree.Get("targets")
	for _, name := range l.targetNames() {
		v := targets.Get(name).Get("default")
		if b, ok := v.AsBool(); ok && b {
			names = append(names, name)
			locs = append(locs, v.Location())
			paths = append(paths, dyn.NewPath("targets", name, "default").String())
		}
	}
	return names, locs, paths
}

// checkDefaultTargets refuses two targets marked default when no target is
// named, as the CLI does (mutator/select_default_target.go).
func (l *loader) checkDefaultTargets() {
	if l.opts.Target != "" {
		return // as in the CLI, a named target does not look at defaults
	}
	defaults, locs, paths := l.defaultTargets()
	if len(defaults) < 2 {
		return
	}
	l.add(diag.Diagnostic{
		Severity:  diag.Error,
		Summary:   "multiple targets are marked as default: " + strings.Join(defaults, ", "),
		Detail:    "Mark exactly one target with default: true.",
		Locations: locs,
		Paths:     paths,
	})
}

// checkTargetResources warns about a target's resource that the bundle
// does not define at the top level but whose key is close to one it does:
// a misspelt override (train_modle for train_model) defines a second,
// half-configured resource. A resource only a target defines is otherwise
// valid, as in the CLI (a dev-only job), and not reported.
func (l *loader) checkTargetResources() {
	if l.target == "" {
		return
	}
	res := l.tree.Get("targets").Get(l.target).Get("resources")
	kinds, ok := res.AsMap()
	if !ok {
		return
	}
	base := l.tree.Get("resources")
	for _, kp := range kinds.Pairs() {
		kind := kp.Key.MustString()
		keys, ok := kp.Value.AsMap()
		if !ok {
			continue
		}
		var defined []string
		if m, ok := base.Get(kind).AsMap(); ok {
			defined = m.Keys()
		}
		for _, p := range keys.Pairs() {
			key := p.Key.MustString()
			if base.Get(kind).Get(key).IsValid() {
				continue
			}
			s := dyn.Suggest(key, defined)
			if s == "" {
				continue
			}
			at := dyn.NewPath("targets", l.target, "resources", kind, key)
			l.add(diag.Diagnostic{
				Severity:  diag.Warning,
				Summary:   fmt.Sprintf("target %q defines %s %q, which the top level does not (did you mean %q?)", l.target, kind, key, s),
				Detail:    fmt.Sprintf("A target's resources override the top-level resources of the same key; %q overrides nothing and deploys as a resource of target %q alone. If it is meant to change %q, use that key.", key, l.target, s),
				Locations: []diag.Location{p.Key.Location()},
				Paths:     []string{at.String()},
			})
		}
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// rootPair finds a top-level key, for locations of whole sections.
func (l *loader) rootPair(key string) (dyn.Pair, bool) {
	m, ok := l.tree.AsMap()
	if !ok {
		return dyn.Pair{}, false
	}
	return m.GetPair(key)
}

// mergedSections are the target sections merged over the top-level ones.
var mergedSections = []string{"bundle", "workspace", "resources", "presets", "permissions", "run_as", "sync", "artifacts"}

// mergeTarget merges the selected target over the top level: maps key by
// key, sequences concatenated, then job tasks, job clusters, parameters
// and environments merged by their keys. Variables are overridden by
// value. The targets section is removed from the tree.
func (l *loader) mergeTarget() {
	if l.target == "" {
		return
	}
	tm, _ := l.tree.AsMap()
	tm = tm.Clone()
	l.targets = l.tree.Get("targets")
	targetPair, hasTarget := dyn.Pair{}, false
	if m, ok := l.targets.AsMap(); ok {
		targetPair, hasTarget = m.GetPair(l.target)
	}
	tm.Delete("targets")
	tree := dyn.Map(tm, l.tree.Location())
	t := targetPair.Value
	at := dyn.NewPath("targets", l.target)

	set := func(p dyn.Path, v dyn.Value) {
		out, err := dyn.SetPath(tree, p, v)
		if err != nil {
			l.errorAt(v, p, "cannot apply target %s: %v", l.target, err)
			return
		}
		tree = out
	}
	merge := func(p dyn.Path, v dyn.Value) {
		merged, ds := dyn.Merge(dyn.GetPath(tree, p), v, p)
		l.diags = l.diags.Extend(ds)
		set(p, merged)
	}

	if hasTarget {
		// Target-level shortcuts for bundle settings.
		if mode := t.Get("mode"); mode.IsValid() && mode.Kind() != dyn.KindNil {
			set(dyn.NewPath("bundle", "mode"), mode)
		}
		for _, key := range []string{"compute_id", "cluster_id"} {
			if v := t.Get(key); v.IsValid() && v.Kind() != dyn.KindNil {
				set(dyn.NewPath("bundle", "cluster_id"), v)
			}
		}
		if git := t.Get("git"); git.IsValid() {
			merge(dyn.NewPath("bundle", "git"), git)
		}
		baseResources := tree.Get("resources")
		for _, sec := range mergedSections {
			if v := t.Get(sec); v.IsValid() {
				merge(dyn.NewPath(sec), v)
			}
		}
		tree = mergeJobSequences(tree, baseResources, t.Get("resources"))
		if bundle := t.Get("bundle"); bundle.IsValid() {
			if cid := bundle.Get("compute_id"); cid.IsValid() {
				set(dyn.NewPath("bundle", "cluster_id"), cid)
			}
		}
		if ws := t.Get("workspace").Get("root_path"); ws.IsValid() && ws.Kind() != dyn.KindNil {
			l.targetRootPath = true
		}
		tree = l.mergeTargetVariables(tree, t.Get("variables"), at.Key("variables"))
	}
	if cid := dyn.GetPath(tree, dyn.NewPath("bundle", "compute_id")); cid.IsValid() {
		// compute_id is the deprecated spelling of cluster_id.
		if !dyn.GetPath(tree, dyn.NewPath("bundle", "cluster_id")).IsValid() {
			set(dyn.NewPath("bundle", "cluster_id"), cid)
		}
	}
	loc := targetPair.Key.Location()
	if !hasTarget {
		loc = tree.Location()
	}
	set(dyn.NewPath("bundle", "target"), dyn.String(l.target, loc))
	l.tree = tree
	l.b.Target = l.target
	l.b.Targets = l.targetNames()
	if len(l.b.Targets) == 0 {
		l.b.Targets = []string{defaultTargetName}
	}
}

// mergeTargetVariables applies targets.<t>.variables: a scalar (or, for a
// complex variable, any value) replaces the default; a mapping with
// default or lookup merges into the definition.
func (l *loader) mergeTargetVariables(tree dyn.Value, overrides dyn.Value, at dyn.Path) dyn.Value {
	m, ok := overrides.AsMap()
	if !ok {
		return tree
	}
	defs := tree.Get("variables")
	for _, p := range m.Pairs() {
		name := p.Key.MustString()
		def := defs.Get(name)
		if !def.IsValid() {
			l.add(diag.Diagnostic{
				Severity:  diag.Error,
				Summary:   fmt.Sprintf("variable %q is not defined but is assigned a value in target %q", name, l.target),
				Detail:    "Declare it under the top-level variables: section first.",
				Locations: []diag.Location{p.Key.Location()},
				Paths:     []string{at.Key(name).String()},
			})
			continue
		}
		l.targetVars[name] = true
		vp := dyn.NewPath("variables", name)
		ov := p.Value
		if om, isMap := ov.AsMap(); isMap && isVariableDefinition(om) {
			for _, field := range om.Pairs() {
				// Replace rather than merge: a complex default is one value.
				out, err := dyn.SetPath(tree, vp.Key(field.Key.MustString()), field.Value)
				if err == nil {
					tree = out
				}
			}
			continue
		}
		out, err := dyn.SetPath(tree, vp.Key("default"), ov)
		if err != nil {
			l.errorAt(ov, at.Key(name), "cannot override variable %s: %v", name, err)
			continue
		}
		tree = out
	}
	return tree
}

func isVariableDefinition(m *dyn.Mapping) bool {
	if m.Len() == 0 {
		return false
	}
	for _, k := range m.Keys() {
		switch k {
		case "default", "lookup", "description", "type":
		default:
			return false
		}
	}
	return true
}

// jobSequenceKeys are the job sequences whose items are identified by a
// key; a target that names the same key changes that item instead of
// adding a second one.
var jobSequenceKeys = []struct{ field, key string }{
	{"tasks", "task_key"},
	{"job_clusters", "job_cluster_key"},
	{"parameters", "name"},
	{"environments", "environment_key"},
}

// mergeJobSequences redoes, for the keyed sequences of jobs the target
// overrides, the plain concatenation of the merge: each target item merges
// into the top-level item with the same key, or is appended. Only target
// items merge, so a key written twice in one definition stays a duplicate
// for validation to report.
func mergeJobSequences(tree, base, override dyn.Value) dyn.Value {
	jobs, ok := override.Get("jobs").AsMap()
	if !ok {
		return tree
	}
	for _, name := range jobs.Keys() {
		ov := override.Get("jobs").Get(name)
		for _, sk := range jobSequenceKeys {
			items, ok := ov.Get(sk.field).AsSeq()
			if !ok {
				continue
			}
			baseItems, _ := base.Get("jobs").Get(name).Get(sk.field).AsSeq()
			merged := mergeByKey(baseItems, items, sk.key)
			p := dyn.NewPath("resources", "jobs", name, sk.field)
			loc := dyn.GetPath(tree, p).Location()
			if out, err := dyn.SetPath(tree, p, dyn.Seq(merged, loc)); err == nil {
				tree = out
			}
		}
	}
	return tree
}

// mergeByKey merges each override item into the first base item with the
// same key, keeping the base order; other override items are appended.
func mergeByKey(base, override []dyn.Value, key string) []dyn.Value {
	out := append([]dyn.Value{}, base...)
	index := map[string]int{}
	for i, item := range base {
		if k, ok := item.Get(key).AsString(); ok {
			if _, seen := index[k]; !seen {
				index[k] = i
			}
		}
	}
	for _, item := range override {
		if k, ok := item.Get(key).AsString(); ok {
			if i, seen := index[k]; seen {
				if merged, ds := dyn.Merge(out[i], item, nil); !ds.HasError() {
					out[i] = merged
					continue
				}
			}
		}
		out = append(out, item)
	}
	return out
}
