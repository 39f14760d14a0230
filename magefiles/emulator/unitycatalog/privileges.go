package unitycatalog

import (
	"net/http"
	"sort"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/catalog"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// AllUsers is the group every principal belongs to.
const AllUsers = "account users"

// Securable types of the grants API. A registered model is a FUNCTION
// securable there (the bundle's direct engine maps registered_models to
// "function"); "registered-model" is accepted too.
const (
	typeCatalog  = "catalog"
	typeSchema   = "schema"
	typeFunction = "function"
)

// key names a securable in the grants table.
type key struct {
	kind, name string
}

func (k key) String() string { return k.kind + ":" + k.name }

// parent is the securable one level up ("" at the catalog).
func (k key) parent() (key, bool) {
	switch k.kind {
	case typeFunction:
		return key{typeSchema, k.name[:strings.LastIndex(k.name, ".")]}, true
	case typeSchema:
		return key{typeCatalog, k.name[:strings.LastIndex(k.name, ".")]}, true
	}
	return key{}, false
}

// label is how error messages name a securable.
func (k key) label() string {
	switch k.kind {
	case typeCatalog:
		return "Catalog '" + k.name + "'"
	case typeSchema:
		return "Schema '" + k.name + "'"
	}
	return "Routine or Model '" + k.name + "'"
}

func catalogMissing(name string) *core.Error {
	return core.NewError(http.StatusNotFound, "CATALOG_DOES_NOT_EXIST", "Catalog '%s' does not exist.", name)
}

func schemaMissing(full string) *core.Error {
	return core.NewError(http.StatusNotFound, "SCHEMA_DOES_NOT_EXIST", "Schema '%s' does not exist.", full)
}

func modelMissing(full string) *core.Error {
	return core.NotFound("Routine or Model '%s' does not exist.", full)
}

// securable resolves a grants API securable type and name to an existing
// securable. Call with m.mu held.
func (m *Metastore) securable(kind, fullName string) (key, *core.Error) {
	name := norm(fullName)
	switch strings.ToLower(kind) {
	case typeCatalog:
		if m.catalogs[name] == nil {
			return key{}, catalogMissing(name)
		}
		return key{typeCatalog, name}, nil
	case typeSchema:
		if aerr := m.schemaExists(name); aerr != nil {
			return key{}, aerr
		}
		return key{typeSchema, name}, nil
	case typeFunction, "registered-model", "registered_model":
		if _, aerr := m.model(name); aerr != nil {
			return key{}, aerr
		}
		return key{typeFunction, name}, nil
	}
	return key{}, core.InvalidParam("Unsupported securable type '%s'; the emulator grants on catalog, schema and function (registered model).", kind)
}

// schemaExists checks the catalog, then the schema. Call with m.mu held.
func (m *Metastore) schemaExists(full string) *core.Error {
	cat, _, found := strings.Cut(full, ".")
	if !found {
		return core.InvalidParam("Invalid schema name '%s': use catalog_name.schema_name.", full)
	}
	if m.catalogs[cat] == nil {
		return catalogMissing(cat)
	}
	if m.schemas[full] == nil {
		return schemaMissing(full)
	}
	return nil
}

// model finds a model, reporting the first missing level. Call with m.mu held.
func (m *Metastore) model(full string) (*modelRec, *core.Error) {
	cat, schema, name, aerr := splitModel(full)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := m.schemaExists(cat + "." + schema); aerr != nil {
		return nil, aerr
	}
	mr := m.models[cat+"."+schema+"."+name]
	if mr == nil {
		return nil, modelMissing(cat + "." + schema + "." + name)
	}
	return mr, nil
}

// owner is the owner of a securable.
func (m *Metastore) owner(k key) string {
	switch k.kind {
	case typeCatalog:
		if c := m.catalogs[k.name]; c != nil {
			return c.Owner
		}
	case typeSchema:
		if s := m.schemas[k.name]; s != nil {
			return s.Owner
		}
	case typeFunction:
		if mr := m.models[k.name]; mr != nil {
			return mr.info.Owner
		}
	}
	return ""
}

func (m *Metastore) owns(principal string, k key) bool {
	o := m.owner(k)
	return o != "" && (o == principal || o == AllUsers)
}

// granted reports whether principal holds priv on k, directly or inherited
// from a parent, itself or through the account users group. ALL_PRIVILEGES
// stands for every privilege but MANAGE, which the Unity Catalog docs list
// apart from it. Call with m.mu held.
func (m *Metastore) granted(principal string, k key, priv catalog.Privilege) bool {
	for at, ok := k, true; ok; at, ok = at.parent() {
		for _, p := range []string{principal, AllUsers} {
			privs := m.grants[at.String()][p]
			if privs[priv] || (priv != catalog.PrivilegeManage && privs[catalog.PrivilegeAllPrivileges]) {
				return true
			}
		}
	}
	return false
}

// denied is the service's refusal: "User does not have USE CATALOG on
// Catalog 'dev'."
func denied(priv catalog.Privilege, k key) *core.Error {
	return core.PermissionDenied("User does not have %s on %s.", strings.ReplaceAll(string(priv), "_", " "), k.label())
}

// need checks that principal owns k or holds priv on it.
func (m *Metastore) need(principal string, k key, priv catalog.Privilege) *core.Error {
	if m.owns(principal, k) || m.granted(principal, k, priv) {
		return nil
	}
	return denied(priv, k)
}

// canEnter checks USE_CATALOG and USE_SCHEMA (or ownership) on the parents
// of a schema-level or model-level securable.
func (m *Metastore) canEnter(principal, schemaFull string) *core.Error {
	cat, _, _ := strings.Cut(schemaFull, ".")
	if aerr := m.need(principal, key{typeCatalog, cat}, catalog.PrivilegeUseCatalog); aerr != nil {
		return aerr
	}
	return m.need(principal, key{typeSchema, schemaFull}, catalog.PrivilegeUseSchema)
}

func schemaOf(model string) string { return model[:strings.LastIndex(model, ".")] }

// canRead is the rule for reading a model, its versions and aliases:
// USE_CATALOG, USE_SCHEMA and EXECUTE on the model (or ownership).
func (m *Metastore) canRead(principal string, mr *modelRec) *core.Error {
	full := mr.info.FullName
	if aerr := m.canEnter(principal, schemaOf(full)); aerr != nil {
		return aerr
	}
	return m.need(principal, key{typeFunction, full}, catalog.PrivilegeExecute)
}

// canManage is the rule for changing a model, its versions and aliases:
// the model's owner, with USE_CATALOG and USE_SCHEMA. The SDK's
// RegisteredModels and ModelVersions docs ("The caller must be a metastore
// admin or an owner of the registered model") and the "Manage model
// lifecycle" page (aliases: "Owner of the registered model") allow no
// privilege in place of ownership. The emulator has no metastore admin.
func (m *Metastore) canManage(principal string, mr *modelRec) *core.Error {
	full := mr.info.FullName
	if aerr := m.canEnter(principal, schemaOf(full)); aerr != nil {
		return aerr
	}
	if m.owns(principal, key{typeFunction, full}) {
		return nil
	}
	return notOwner(full)
}

// canCreateVersion is the rule for registering a version: the owner (the
// SDK's docs and the older "Upgrade ML workflows" page: "Only the owner of
// a registered model can ... Create a new model version"), or, with
// Options.ModelVersionGrants, a principal holding CREATE MODEL VERSION on
// the model (the current "Upgrade ML workflows" page: "the owner of the
// registered model, or have the CREATE MODEL VERSION privilege on it").
func (m *Metastore) canCreateVersion(principal string, mr *modelRec) *core.Error {
	full := mr.info.FullName
	if aerr := m.canEnter(principal, schemaOf(full)); aerr != nil {
		return aerr
	}
	k := key{typeFunction, full}
	switch {
	case m.owns(principal, k):
		return nil
	case !m.versionGrants:
		return notOwner(full)
	case m.granted(principal, k, PrivilegeCreateModelVersion):
		return nil
	}
	return denied(PrivilegeCreateModelVersion, k)
}

// PrivilegeCreateModelVersion is the CREATE MODEL VERSION privilege of the
// Unity Catalog privileges reference ("Allows a user to register a new
// version"); the SDK's Privilege enum does not list it yet.
const PrivilegeCreateModelVersion catalog.Privilege = "CREATE_MODEL_VERSION"

// notOwner refuses a change only the owner may make. No public source
// quotes the service's message for this case; the emulator's is its own.
func notOwner(full string) *core.Error {
	return core.PermissionDenied("User is not an owner of Routine or Model '%s'.", full)
}

// canGrant is the rule for changing grants: the owner of the securable or
// of a parent, or MANAGE on it.
func (m *Metastore) canGrant(principal string, k key) *core.Error {
	for at, ok := k, true; ok; at, ok = at.parent() {
		if m.owns(principal, at) {
			return nil
		}
	}
	if m.granted(principal, k, catalog.PrivilegeManage) {
		return nil
	}
	return denied(catalog.PrivilegeManage, k)
}

// applyChanges applies grant changes. Call with m.mu held.
func (m *Metastore) applyChanges(k key, changes []catalog.PermissionsChange) *core.Error {
	for _, ch := range changes {
		if strings.TrimSpace(ch.Principal) == "" {
			return core.InvalidParam("Principal must be specified for every change.")
		}
		for _, p := range ch.Remove {
			for _, a := range ch.Add {
				if a == p {
					return core.InvalidParam("Duplicate privileges to add and delete for principal %s.", ch.Principal)
				}
			}
		}
	}
	table := m.grants[k.String()]
	if table == nil {
		table = map[string]map[catalog.Privilege]bool{}
		m.grants[k.String()] = table
	}
	for _, ch := range changes {
		privs := table[ch.Principal]
		if privs == nil {
			privs = map[catalog.Privilege]bool{}
			table[ch.Principal] = privs
		}
		for _, p := range ch.Remove {
			if p == catalog.PrivilegeAllPrivileges {
				clear(privs)
			}
			delete(privs, p)
		}
		for _, p := range ch.Add {
			privs[p] = true
		}
		if len(privs) == 0 {
			delete(table, ch.Principal)
		}
	}
	return nil
}

// assignments lists the direct grants on k, sorted, for principal only when
// it is set.
func (m *Metastore) assignments(k key, principal string) []catalog.PrivilegeAssignment {
	var out []catalog.PrivilegeAssignment
	for p, privs := range m.grants[k.String()] {
		if principal != "" && p != principal {
			continue
		}
		out = append(out, catalog.PrivilegeAssignment{Principal: p, Privileges: sortedPrivileges(privs)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Principal < out[j].Principal })
	return out
}

// effective lists the privileges each principal holds on k, with where each
// is inherited from.
func (m *Metastore) effective(k key, principal string) []catalog.EffectivePrivilegeAssignment {
	byPrincipal := map[string][]catalog.EffectivePrivilege{}
	for at, ok := k, true; ok; at, ok = at.parent() {
		for p, privs := range m.grants[at.String()] {
			if principal != "" && p != principal {
				continue
			}
			for _, priv := range sortedPrivileges(privs) {
				e := catalog.EffectivePrivilege{Privilege: priv}
				if at != k {
					e.InheritedFromName, e.InheritedFromType = at.name, catalog.SecurableType(strings.ToUpper(at.kind))
				}
				byPrincipal[p] = append(byPrincipal[p], e)
			}
		}
	}
	var out []catalog.EffectivePrivilegeAssignment
	for p, privs := range byPrincipal {
		out = append(out, catalog.EffectivePrivilegeAssignment{Principal: p, Privileges: privs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Principal < out[j].Principal })
	return out
}

func sortedPrivileges(set map[catalog.Privilege]bool) []catalog.Privilege {
	out := make([]catalog.Privilege, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
