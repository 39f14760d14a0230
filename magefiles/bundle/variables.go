package bundle

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/google/uuid"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/dyn"
)

// workspacePathFields are the workspace paths derived from root_path.
var workspacePathFields = []struct{ field, sub string }{
	{"file_path", "files"},
	{"artifact_path", "artifacts"},
	{"state_path", "state"},
	{"resource_path", "resources"},
}

// defineWorkspaceDefaults sets root_path to ~/.bundle/<name>/<target> when
// the configuration does not, and the derived paths under it.
func (l *loader) defineWorkspaceDefaults() {
	ws := l.tree.Get("workspace")
	loc := ws.Location()
	if !ws.IsValid() {
		loc = l.tree.Location()
	}
	if root := ws.Get("root_path"); !root.IsValid() || root.Kind() == dyn.KindNil {
		l.setTree(dyn.NewPath("workspace", "root_path"), dyn.String("~/.bundle/${bundle.name}/${bundle.target}", loc))
	}
	for _, f := range workspacePathFields {
		if v := ws.Get(f.field); !v.IsValid() || v.Kind() == dyn.KindNil {
			l.setTree(dyn.NewPath("workspace", f.field), dyn.String("${workspace.root_path}/"+f.sub, loc))
		}
	}
}

func (l *loader) setTree(p dyn.Path, v dyn.Value) {
	out, err := dyn.SetPath(l.tree, p, v)
	if err != nil {
		l.errorAt(v, p, "cannot set %s: %v", p, err)
		return
	}
	l.tree = out
}

// needsUser reports whether anything in the configuration depends on who
// deploys: development mode, a root path under ~, or a reference to
// workspace.current_user.
func (l *loader) needsUser() bool {
	if mode, _ := dyn.GetPath(l.tree, dyn.NewPath("bundle", "mode")).AsString(); mode == string(ModeDevelopment) {
		return true
	}
	if root, _ := dyn.GetPath(l.tree, dyn.NewPath("workspace", "root_path")).AsString(); strings.HasPrefix(root, "~") {
		return true
	}
	found := false
	dyn.Visit(l.tree, nil, func(_ dyn.Path, v dyn.Value) bool {
		if s, ok := v.AsString(); ok && strings.Contains(s, "workspace.current_user") {
			found = true
		}
		return !found
	})
	return found
}

// resolveUser settles the current user when the configuration needs one,
// fills workspace.current_user and expands a root path under ~.
func (l *loader) resolveUser() {
	if !l.needsUser() {
		return
	}
	switch {
	case l.opts.CurrentUser != "":
		l.user = User{UserName: l.opts.CurrentUser}
	case l.opts.LookupUser != nil:
		u, err := l.opts.LookupUser()
		if err != nil {
			l.add(diag.Diagnostic{
				Severity: diag.Error,
				Summary:  fmt.Sprintf("cannot determine the current workspace user: %v", err),
				Detail:   "Target " + l.target + " needs the deploying user (development mode, a root path under ~ or ${workspace.current_user}). Check the credentials, or pass the user explicitly.",
			})
			return
		}
		l.user = u
	default:
		l.user = User{UserName: OfflineUser}
	}
	if l.user.UserName == "" {
		l.add(diag.Diagnostic{Severity: diag.Error, Summary: "the current workspace user has an empty user name"})
		return
	}
	l.userKnown = true
	l.shortName = ShortName(l.user)
	loc := l.tree.Get("workspace").Location()
	cu := dyn.NewMapping()
	cu.SetString("userName", dyn.String(l.user.UserName, loc))
	if l.user.DisplayName != "" {
		cu.SetString("displayName", dyn.String(l.user.DisplayName, loc))
	}
	cu.SetString("short_name", dyn.String(l.shortName, loc))
	l.setTree(dyn.NewPath("workspace", "current_user"), dyn.Map(cu, loc))

	rootPath := dyn.NewPath("workspace", "root_path")
	root := dyn.GetPath(l.tree, rootPath)
	if s, ok := root.AsString(); ok && (s == "~" || strings.HasPrefix(s, "~/")) {
		l.setTree(rootPath, dyn.String("/Workspace/Users/"+l.user.UserName+strings.TrimPrefix(s, "~"), root.Location()))
	}
}

// ShortName is the user name used in development prefixes and tags: the
// part before @ (the display name for service principals), lower case,
// with every character that is not a letter or digit replaced by _.
func ShortName(u User) string {
	name := u.UserName
	if isServicePrincipal(u.UserName) && u.DisplayName != "" {
		name = u.DisplayName
	}
	local, _, _ := strings.Cut(name, "@")
	return normalizeName(local)
}

// isServicePrincipal uses the CLI's heuristic: service principals are
// named by their application ID, a UUID.
func isServicePrincipal(userName string) bool {
	_, err := uuid.Parse(userName)
	return err == nil
}

func normalizeName(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return '_'
	}, strings.ToLower(s))
}

// defineVariables gives every declared variable its value, in order of
// precedence: --var, BUNDLE_VAR_<name>, the target's override, the
// default. A variable left without a value is an error at its
// declaration.
func (l *loader) defineVariables() {
	defs, _ := l.tree.Get("variables").AsMap()
	for _, name := range sortedKeys(l.opts.Vars) {
		if _, ok := defs.Get(name); !ok {
			l.add(diag.Diagnostic{
				Severity: diag.Error,
				Summary:  fmt.Sprintf("--var %s: the bundle declares no variable %q", name, name),
				Detail:   declaredList(defs),
			})
		}
	}
	for _, p := range defs.Pairs() {
		name := p.Key.MustString()
		def := p.Value
		at := dyn.NewPath("variables", name)
		if def.Kind() == dyn.KindNil {
			def = dyn.Map(nil, p.Key.Location())
		}
		if _, ok := def.AsMap(); !ok {
			// checkSchema reported the shape already.
			continue
		}
		typ, _ := def.Get("type").AsString()
		if typ != "" && typ != "complex" {
			l.errorAt(def.Get("type"), at.Key("type"), "variable %q has unsupported type %q; the only type is complex", name, typ)
			continue
		}
		desc, _ := def.Get("description").AsString()
		v := &Variable{Name: name, Description: desc}
		var value dyn.Value
		switch {
		case l.hasVarFlag(name):
			value = dyn.String(l.opts.Vars[name], diag.Location{})
			v.Source = "--var"
		case l.hasEnvVar(name):
			s, _ := l.opts.LookupEnv("BUNDLE_VAR_" + name)
			value = dyn.String(s, diag.Location{})
			v.Source = "BUNDLE_VAR_" + name
		case def.Get("default").IsValid() && def.Get("default").Kind() != dyn.KindNil:
			value = def.Get("default")
			v.Source = "default"
			if l.targetVars[name] {
				v.Source = "target " + l.target
			}
		case def.Get("lookup").IsValid():
			resolved, ok := l.lookup(name, def.Get("lookup"), at.Key("lookup"))
			if !ok {
				continue
			}
			value = resolved
			v.Source = "lookup"
		default:
			l.add(diag.Diagnostic{
				Severity: diag.Error,
				Summary:  fmt.Sprintf("no value assigned to required variable %q in target %q", name, l.target),
				Detail: fmt.Sprintf("Give it a default, set targets.%s.variables.%s, pass --var %s=<value> or set BUNDLE_VAR_%s.",
					l.target, name, name, name),
				Locations: []diag.Location{p.Key.Location()},
				Paths:     []string{at.String()},
			})
			continue
		}
		// A map or list value without type: complex is accepted, as in the
		// CLI (bundle/config/root.go rewriteShorthands wraps it; nothing
		// checks the type); only --var and BUNDLE_VAR_ cannot carry one.
		if typ == "complex" && (v.Source == "--var" || strings.HasPrefix(v.Source, "BUNDLE_VAR_")) {
			l.errorAt(value, at, "variable %q is complex; it cannot be set with %s", name, v.Source)
			continue
		}
		v.Location = value.Location()
		l.b.Variables[name] = v
		l.setTree(at.Key("value"), value)
	}
}

func (l *loader) hasVarFlag(name string) bool {
	_, ok := l.opts.Vars[name]
	return ok
}

func (l *loader) hasEnvVar(name string) bool {
	if l.opts.LookupEnv == nil {
		return false
	}
	_, ok := l.opts.LookupEnv("BUNDLE_VAR_" + name)
	return ok
}

func declaredList(defs *dyn.Mapping) string {
	names := defs.Keys()
	if len(names) == 0 {
		return "The bundle declares no variables."
	}
	sort.Strings(names)
	return "Declared variables: " + strings.Join(names, ", ") + "."
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lookup resolves a variable's lookup: through LoadOptions.Lookup when the
// caller has a workspace (a failure is the CLI's error), otherwise it is a
// warning and the variable's references stay unresolved for the deploy,
// which resolves them (Bundle.PendingLookups).
func (l *loader) lookup(name string, lv dyn.Value, at dyn.Path) (dyn.Value, bool) {
	m, ok := lv.AsMap()
	if !ok || m.Len() != 1 {
		l.errorAt(lv, at, "variable %q: a lookup names exactly one kind of object (cluster, job, warehouse, ...)", name)
		return dyn.InvalidValue, false
	}
	pair := m.Pairs()[0]
	kind := pair.Key.MustString()
	object, _ := pair.Value.Text()
	if l.opts.Lookup == nil {
		l.b.PendingLookups = append(l.b.PendingLookups, Lookup{Variable: name, Kind: kind, Name: object})
		l.add(diag.Diagnostic{
			Severity:  diag.Warning,
			Summary:   fmt.Sprintf("variable %q looks up %s %q, which needs a workspace: resolved when a target is deployed", name, strings.ReplaceAll(kind, "_", " "), object),
			Detail:    fmt.Sprintf("Its references stay unresolved here. The Databricks CLI (-engine=cli) resolves it on deploy; the sdk engine needs the value: pass --var %s=<id> or set BUNDLE_VAR_%s.", name, name),
			Locations: []diag.Location{lv.Location()},
			Paths:     []string{at.String()},
		})
		return dyn.InvalidValue, false
	}
	id, err := l.opts.Lookup(kind, object)
	if err != nil {
		l.errorAt(lv, at, "failed to resolve %s: %s, err: %v", strings.ReplaceAll(kind, "_", "-"), object, err)
		return dyn.InvalidValue, false
	}
	return dyn.String(id, lv.Location()), true
}
