package bundle

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/catalog"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/dyn"
)

// Registry is the model registry a bundle target registers versions in,
// chosen by the resource the bundle declares.
type Registry string

const (
	// RegistryUnityCatalog is resources.registered_models: three-level
	// names, aliases, grants per catalog.
	RegistryUnityCatalog Registry = "unity-catalog"
	// RegistryWorkspace is resources.models, the workspace model registry
	// kept for workspaces that still have it.
	RegistryWorkspace Registry = "workspace"
)

// String names the registry for people.
func (r Registry) String() string {
	switch r {
	case RegistryUnityCatalog:
		return "Unity Catalog"
	case RegistryWorkspace:
		return "workspace model registry"
	}
	return string(r)
}

// Alias variables: the names the deploy gives the version serving 100%
// and the canary candidate.
const (
	VarChampionAlias   = "champion_alias"
	VarChallengerAlias = "challenger_alias"
	// DefaultChampionAlias and DefaultChallengerAlias apply when the
	// bundle does not declare the variables.
	DefaultChampionAlias   = "champion"
	DefaultChallengerAlias = "challenger"
)

// RegistryModel is the model a target registers its versions under.
type RegistryModel struct {
	Registry Registry
	// Key is the resource key under resources.registered_models or
	// resources.models.
	Key string
	// FullName is the name the registry and serving APIs take: in Unity
	// Catalog catalog.schema.name in lowercase (the service stores names in
	// lowercase and answers with them), in the workspace registry the name.
	FullName string
	// Catalog, Schema and Name are the parts of a Unity Catalog name (Name
	// with the development prefix); Catalog and Schema are empty for the
	// workspace registry.
	Catalog, Schema, Name string
	// Champion and Challenger are the alias names the deploy sets
	// (variables champion_alias and challenger_alias, or their defaults).
	Champion, Challenger string
}

// RegistryModel returns the model the target registers versions under:
// the only model the bundle declares (Unity Catalog or workspace registry),
// or, when it declares several, the one var.model_name names.
func (b *Bundle) RegistryModel() (*RegistryModel, error) {
	var all []*RegistryModel
	for _, key := range sortedKeys(b.RegisteredModels) {
		r := b.RegisteredModels[key].Request
		all = append(all, &RegistryModel{
			Registry: RegistryUnityCatalog, Key: key,
			FullName: strings.ToLower(r.CatalogName + "." + r.SchemaName + "." + r.Name),
			Catalog:  r.CatalogName, Schema: r.SchemaName, Name: r.Name,
		})
	}
	for _, key := range sortedKeys(b.Models) {
		name := b.Models[key].Request.Name
		all = append(all, &RegistryModel{Registry: RegistryWorkspace, Key: key, FullName: name, Name: name})
	}
	var m *RegistryModel
	switch len(all) {
	case 0:
		return nil, fmt.Errorf("bundle %s (target %s) declares no model (resources.registered_models or resources.models): nothing to register versions under", b.Name, b.Target)
	case 1:
		m = all[0]
	default:
		want := b.Var("model_name")
		for _, c := range all {
			if want != "" && c.Name == b.prefixed(c.Registry, want) {
				m = c
			}
		}
		if m == nil {
			return nil, fmt.Errorf("bundle %s (target %s) declares %d models and none is named by var.model_name (%q)", b.Name, b.Target, len(all), want)
		}
	}
	m.Champion, m.Challenger = DefaultChampionAlias, DefaultChallengerAlias
	if v := b.Var(VarChampionAlias); v != "" {
		m.Champion = v
	}
	if v := b.Var(VarChallengerAlias); v != "" {
		m.Challenger = v
	}
	return m, nil
}

// prefixed is name as the target's presets write it for a registry: the
// display prefix in the workspace registry, the normalized one in Unity
// Catalog.
func (b *Bundle) prefixed(r Registry, name string) string {
	if r == RegistryUnityCatalog {
		return NormalizePrefix(b.Presets.NamePrefix) + name
	}
	return b.Presets.NamePrefix + name
}

// aliasName is what an alias may be called: letters, digits and
// underscores (Unity Catalog refuses the dashes MLflow's own registry
// allows).
var aliasName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// versionAlias is MLflow's reserved form: v1, V12 name versions.
var versionAlias = regexp.MustCompile(`^[vV][0-9]+$`)

// maxAliasLength is MLflow's limit on alias names.
const maxAliasLength = 255

// CheckAlias returns why name cannot be a model alias, or "".
func CheckAlias(name string) string {
	switch {
	case name == "":
		return "an alias needs a name"
	case !aliasName.MatchString(name):
		return fmt.Sprintf("alias %q may only hold letters, digits and underscores (A-Z, a-z, 0-9, _); for example %q", name, aliasFix.ReplaceAllString(name, "_"))
	case len(name) > maxAliasLength:
		return fmt.Sprintf("alias %q is longer than %d characters", name, maxAliasLength)
	case strings.EqualFold(name, "latest"):
		return fmt.Sprintf("alias %q is reserved: latest always means the newest version", name)
	case versionAlias.MatchString(name):
		return fmt.Sprintf("alias %q is reserved: v<number> names a version", name)
	}
	return ""
}

var aliasFix = regexp.MustCompile(`[^A-Za-z0-9_]`)

// ReleaseAlias is the alias that names a release's version in every
// environment: release_ and the tag with each character outside
// [A-Za-z0-9_] replaced by _ (v1.2.0-rc.1 -> release_v1_2_0_rc_1).
func ReleaseAlias(tag string) string {
	return "release_" + aliasFix.ReplaceAllString(tag, "_")
}

// maxUCNameLength is Unity Catalog's limit on object names.
const maxUCNameLength = 255

// checkUCName returns why a catalog, schema or model name cannot be a
// Unity Catalog object name, or "". Unity Catalog refuses periods, spaces,
// slashes, ASCII control characters and DEL, and names over 255
// characters.
func checkUCName(name string) string {
	if len(name) > maxUCNameLength {
		return fmt.Sprintf("is longer than %d characters", maxUCNameLength)
	}
	for _, r := range name {
		switch {
		case r == '.':
			return "holds a period (.), which separates catalog, schema and name"
		case r == ' ':
			return "holds a space"
		case r == '/':
			return "holds a slash (/)"
		case r < 0x20 || r == 0x7f:
			return fmt.Sprintf("holds the control character %U", r)
		}
	}
	return ""
}

// privileges are the Unity Catalog privileges the SDK knows.
var privileges = func() map[string]bool {
	var p catalog.Privilege
	out := map[string]bool{}
	for _, v := range p.Values() {
		out[string(v)] = true
	}
	return out
}()

func privilegeNames() []string {
	out := make([]string, 0, len(privileges))
	for p := range privileges {
		out = append(out, p)
	}
	return out
}

// validateRegisteredModel checks what Unity Catalog would refuse: the
// three parts of the name, full_name if written, grants, and aliases
// (which are release state the deploy sets, not configuration).
func (l *loader) validateRegisteredModel(key string, m *RegisteredModel) {
	at := dyn.NewPath("resources", KindRegisteredModels, key)
	r := m.Request
	l.requireName(at, r.Name, "registered model")
	for _, f := range []struct{ field, value string }{{"catalog_name", r.CatalogName}, {"schema_name", r.SchemaName}, {"name", r.Name}} {
		fa := at.Key(f.field)
		if f.value == "" {
			if f.field != "name" {
				l.errorAt(l.valueOrParent(fa), fa, "registered model %q needs %s (Unity Catalog models live in a catalog and schema)", key, f.field)
			}
			continue
		}
		if why := checkUCName(f.value); why != "" {
			l.add(diag.Diagnostic{
				Severity:  diag.Error,
				Summary:   fmt.Sprintf("%s %q of registered model %q %s", f.field, f.value, key, why),
				Detail:    "Unity Catalog names may not hold periods, spaces, slashes or control characters, and have at most 255 characters.",
				Locations: locations(l.valueOrParent(fa)),
				Paths:     []string{fa.String()},
			})
			continue
		}
		if f.value != strings.ToLower(f.value) {
			l.add(diag.Diagnostic{
				Severity:  diag.Warning,
				Summary:   fmt.Sprintf("%s %q of registered model %q is stored as %q: Unity Catalog keeps names in lowercase", f.field, f.value, key, strings.ToLower(f.value)),
				Locations: locations(l.valueOrParent(fa)),
				Paths:     []string{fa.String()},
			})
		}
	}
	if r.FullName != "" && r.CatalogName != "" && r.SchemaName != "" && r.Name != "" {
		want := r.CatalogName + "." + r.SchemaName + "." + r.Name
		if !strings.EqualFold(r.FullName, want) {
			fa := at.Key("full_name")
			l.errorAt(l.valueOrParent(fa), fa, "full_name %q of registered model %q is not catalog_name.schema_name.name (%s); leave it out, the service sets it", r.FullName, key, want)
		}
	}
	for i, g := range m.Grants {
		ga := at.Key("grants").Index(i)
		if strings.TrimSpace(g.Principal) == "" {
			l.errorAt(l.valueOrParent(ga.Key("principal")), ga.Key("principal"), "grant %d of registered model %q names no principal (a user, group or service principal)", i, key)
		}
		if len(g.Privileges) == 0 {
			l.errorAt(l.valueOrParent(ga.Key("privileges")), ga.Key("privileges"), "grant %d of registered model %q grants no privileges", i, key)
		}
		for j, p := range g.Privileges {
			if privileges[p] {
				continue
			}
			pa := ga.Key("privileges").Index(j)
			summary := fmt.Sprintf("grant of registered model %q names unknown privilege %q", key, p)
			if s := dyn.Suggest(strings.ToUpper(strings.ReplaceAll(p, " ", "_")), privilegeNames()); s != "" {
				summary += fmt.Sprintf(" (did you mean %q?)", s)
			}
			l.add(diag.Diagnostic{
				Severity:  diag.Error,
				Summary:   summary,
				Detail:    "A model takes Unity Catalog privileges such as EXECUTE (load and serve it), APPLY_TAG, MANAGE or ALL_PRIVILEGES, written in capitals with underscores.",
				Locations: locations(l.valueOrParent(pa)),
				Paths:     []string{pa.String()},
			})
		}
	}
	for i, a := range r.Aliases {
		aa := at.Key("aliases").Index(i)
		if why := CheckAlias(a.AliasName); why != "" {
			l.errorAt(l.valueOrParent(aa.Key("alias_name")), aa.Key("alias_name"), "registered model %q: %s", key, why)
		}
	}
	if len(r.Aliases) > 0 {
		aa := at.Key("aliases")
		l.add(diag.Diagnostic{
			Severity:  diag.Warning,
			Summary:   fmt.Sprintf("registered model %q declares aliases; the deploy moves aliases, the bundle does not", key),
			Detail:    "Aliases name versions (" + VarChampionAlias + ", " + VarChallengerAlias + ", release_<tag>), which exist only after a training run; the deploy sets and moves them. Remove aliases from the resource.",
			Locations: locations(l.valueOrParent(aa)),
			Paths:     []string{aa.String()},
		})
	}
}

func locations(v dyn.Value) []diag.Location {
	if loc := v.Location(); !loc.IsZero() {
		return []diag.Location{loc}
	}
	return nil
}

// checkOneRegistry reports a model declared in both registries under
// different keys (the same key is already a duplicate key): a workspace
// registry model and a Unity Catalog model of the same name.
func (l *loader) checkOneRegistry() {
	for _, mk := range sortedKeys(l.b.Models) {
		wname := strings.TrimPrefix(l.b.Models[mk].Request.Name, l.b.Presets.NamePrefix)
		for _, rk := range sortedKeys(l.b.RegisteredModels) {
			uname := strings.TrimPrefix(l.b.RegisteredModels[rk].Request.Name, NormalizePrefix(l.b.Presets.NamePrefix))
			if wname == "" || !strings.EqualFold(wname, uname) {
				continue
			}
			ua, wa := dyn.NewPath("resources", KindRegisteredModels, rk, "name"), dyn.NewPath("resources", KindModels, mk, "name")
			l.add(diag.Diagnostic{
				Severity:  diag.Error,
				Summary:   fmt.Sprintf("model %q is declared in both registries: resources.models.%s (workspace registry) and resources.registered_models.%s (Unity Catalog)", uname, mk, rk),
				Detail:    "A bundle registers its model in one registry: keep registered_models (Unity Catalog, the default) or models (the workspace registry, for workspaces that still have it).",
				Locations: append(locations(l.valueOrParent(ua)), locations(l.valueOrParent(wa))...),
				Paths:     []string{ua.String(), wa.String()},
			})
		}
	}
}

// checkAliasVariables checks the alias variables the bundle declares: the
// deploy sets these names on model versions.
func (l *loader) checkAliasVariables() {
	values := map[string]string{}
	for _, name := range []string{VarChampionAlias, VarChallengerAlias} {
		v, ok := l.b.Variables[name]
		if !ok || v.Value == nil {
			continue
		}
		s, isString := v.Value.(string)
		if !isString {
			l.variableError(name, fmt.Sprintf("variable %s must be an alias name, found %s", name, quoteValue(v.Value)))
			continue
		}
		if why := CheckAlias(s); why != "" {
			l.variableError(name, fmt.Sprintf("variable %s: %s", name, why))
			continue
		}
		values[name] = s
	}
	// Compared without case: refusing Champion next to champion is safe
	// whichever way the registry folds case.
	if c, ok := values[VarChampionAlias]; ok && strings.EqualFold(c, values[VarChallengerAlias]) {
		l.variableError(VarChallengerAlias, fmt.Sprintf("variables %s (%q) and %s (%q) name the same alias: setting the canary's would move the serving version's", VarChampionAlias, c, VarChallengerAlias, values[VarChallengerAlias]))
	}
}
