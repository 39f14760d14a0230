package unitycatalog

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/databricks/databricks-sdk-go/service/catalog"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// Clock tells the metastore what time it is (the emulator's clock).
type Clock = core.Clock

// Options configure a Metastore. The zero value runs on the wall clock and
// lets only a model's owner register versions of it.
type Options struct {
	// Clock is the emulator's clock; nil is the wall clock.
	Clock Clock
	// ModelVersionGrants lets a principal holding CREATE MODEL VERSION on a
	// model register versions of it, as the current Unity Catalog pages
	// say; without it only the owner may, as the SDK's docs say.
	ModelVersionGrants bool
}

// Metastore is one Unity Catalog metastore: catalogs, schemas, registered
// models with their versions and aliases, and the grants on them. It has
// its own lock, so the workspaces attached to it share it safely.
type Metastore struct {
	mu    sync.Mutex
	clock Clock
	id    string
	// versionGrants: Options.ModelVersionGrants.
	versionGrants bool

	catalogs map[string]*catalog.CatalogInfo
	schemas  map[string]*catalog.SchemaInfo
	models   map[string]*modelRec
	// tables are the managed tables (inference payload tables), by full name.
	tables map[string]*Table
	// system are the system tables (system.*), whose rows the attached
	// workspaces supply (tables.go).
	system map[string]*systemTable
	// grants: securable key -> principal -> privileges.
	grants map[string]map[string]map[catalog.Privilege]bool
	// next registrations of a model, scripted by FailNextRegistration and
	// InterruptNextRegistration.
	scripted map[string][]Registration
	nextID   int64
}

type modelRec struct {
	info     catalog.RegisteredModelInfo
	versions []*versionRec
	aliases  map[string]int
	next     int
}

type versionRec struct {
	info    catalog.ModelVersionInfo
	outcome Registration
	message string
}

// Registration scripts how the next registration of a model ends.
type Registration struct {
	// Fail makes finalize end the version FAILED_REGISTRATION with Message.
	Fail    bool
	Message string
	// Interrupt makes the registering task die after this step (StepCreate,
	// StepCredentials or StepUpload): the version stays PENDING_REGISTRATION.
	Interrupt Step
}

// New returns an empty metastore.
func New(opts Options) *Metastore {
	m := &Metastore{
		clock: opts.Clock, versionGrants: opts.ModelVersionGrants,
		id:       "11111111-2222-3333-4444-555555555555",
		catalogs: map[string]*catalog.CatalogInfo{},
		schemas:  map[string]*catalog.SchemaInfo{},
		models:   map[string]*modelRec{},
		tables:   map[string]*Table{},
		system:   map[string]*systemTable{},
		grants:   map[string]map[string]map[catalog.Privilege]bool{},
		scripted: map[string][]Registration{},
		nextID:   1000,
	}
	if m.clock == nil {
		m.clock = core.WallClock{}
	}
	return m
}

// ID is the metastore id every object carries.
func (m *Metastore) ID() string { return m.id }

func (m *Metastore) now() time.Time { return m.clock.Now() }

func (m *Metastore) uuid() string {
	m.nextID++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", m.nextID, m.nextID)
}

// Names in Unity Catalog are case-insensitive and stored lower-case.
func norm(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// validName is what the emulator accepts as a catalog, schema or model
// name: no periods, spaces, slashes or control characters.
var validName = regexp.MustCompile(`^[^.\s/\x00-\x1f]+$`)

// splitModel splits a three-level model name.
func splitModel(full string) (cat, schema, name string, aerr *core.Error) {
	parts := strings.Split(norm(full), ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", core.InvalidParam("Bad model name: please specify all three levels of the model in the form `catalog_name.schema_name.model_name`. Got '%s'.", full)
	}
	return parts[0], parts[1], parts[2], nil
}

// IsModelName reports whether name is a three-level Unity Catalog name.
func IsModelName(name string) bool {
	_, _, _, aerr := splitModel(name)
	return aerr == nil
}

// CreateCatalog creates a catalog owned by owner (seeding for tests and the
// demo; the workspace has no catalog-create route).
func (m *Metastore) CreateCatalog(owner, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = norm(name)
	if !validName.MatchString(name) {
		return fmt.Errorf("create catalog %q: not a valid name", name)
	}
	if _, ok := m.catalogs[name]; ok {
		return fmt.Errorf("create catalog %s: already exists", name)
	}
	now := m.now().UnixMilli()
	m.catalogs[name] = &catalog.CatalogInfo{
		Name: name, FullName: name, Owner: owner, CreatedBy: owner, UpdatedBy: owner,
		CreatedAt: now, UpdatedAt: now, MetastoreId: m.id,
		CatalogType: catalog.CatalogTypeManagedCatalog, SecurableType: catalog.SecurableTypeCatalog,
		IsolationMode: catalog.CatalogIsolationModeOpen,
	}
	return nil
}

// CreateSchema creates catalogName.name owned by owner.
func (m *Metastore) CreateSchema(owner, catalogName, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	catalogName, name = norm(catalogName), norm(name)
	if !validName.MatchString(name) {
		return fmt.Errorf("create schema %q: not a valid name", name)
	}
	if _, ok := m.catalogs[catalogName]; !ok {
		return fmt.Errorf("create schema %s.%s: no catalog %s", catalogName, name, catalogName)
	}
	full := catalogName + "." + name
	if _, ok := m.schemas[full]; ok {
		return fmt.Errorf("create schema %s: already exists", full)
	}
	now := m.now().UnixMilli()
	m.schemas[full] = &catalog.SchemaInfo{
		Name: name, CatalogName: catalogName, FullName: full, Owner: owner,
		CreatedBy: owner, UpdatedBy: owner, CreatedAt: now, UpdatedAt: now,
		MetastoreId: m.id, SchemaId: m.uuid(), CatalogType: catalog.CatalogTypeManagedCatalog,
	}
	return nil
}

// Grant adds privileges for principal on a securable (catalog, schema, or
// function / registered model, by its full name).
func (m *Metastore) Grant(securable catalog.SecurableType, fullName, principal string, privileges ...catalog.Privilege) error {
	return m.change(securable, fullName, catalog.PermissionsChange{Principal: principal, Add: privileges})
}

// Revoke removes privileges of principal on a securable.
func (m *Metastore) Revoke(securable catalog.SecurableType, fullName, principal string, privileges ...catalog.Privilege) error {
	return m.change(securable, fullName, catalog.PermissionsChange{Principal: principal, Remove: privileges})
}

func (m *Metastore) change(securable catalog.SecurableType, fullName string, ch catalog.PermissionsChange) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	key, aerr := m.securable(string(securable), fullName)
	if aerr != nil {
		return fmt.Errorf("grants on %s %s: %w", securable, fullName, aerr)
	}
	if aerr := m.applyChanges(key, []catalog.PermissionsChange{ch}); aerr != nil {
		return fmt.Errorf("grants on %s %s: %w", securable, fullName, aerr)
	}
	return nil
}

// FailNextRegistration makes the next registration of the model end
// FAILED_REGISTRATION with message when it is finalized.
func (m *Metastore) FailNextRegistration(model, message string) {
	m.script(model, Registration{Fail: true, Message: message})
}

// InterruptNextRegistration makes the next task that registers a version of
// the model (training, promotion) die after step: the version stays
// PENDING_REGISTRATION, as a real upload that dies leaves it.
func (m *Metastore) InterruptNextRegistration(model string, after Step) {
	m.script(model, Registration{Interrupt: after})
}

func (m *Metastore) script(model string, r Registration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.scripted[norm(model)] = append(m.scripted[norm(model)], r)
}

// ModelVersion returns a version as the API shows it now, with the status
// message of a failed registration.
func (m *Metastore) ModelVersion(model string, version int) (info catalog.ModelVersionInfo, statusMessage string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mr := m.models[norm(model)]
	if mr == nil {
		return catalog.ModelVersionInfo{}, "", false
	}
	v := mr.version(version)
	if v == nil {
		return catalog.ModelVersionInfo{}, "", false
	}
	return mr.render(v, true), v.message, true
}

// Aliases returns the model's aliases (alias -> version).
func (m *Metastore) Aliases(model string) map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	mr := m.models[norm(model)]
	if mr == nil {
		return nil
	}
	out := map[string]int{}
	for k, v := range mr.aliases {
		out[k] = v
	}
	return out
}

func (mr *modelRec) version(n int) *versionRec {
	for _, v := range mr.versions {
		if v.info.Version == n {
			return v
		}
	}
	return nil
}

// aliasesOf lists the aliases pointing at version n (all when n is 0),
// sorted by name.
func (mr *modelRec) aliasesOf(n int) []catalog.RegisteredModelAlias {
	var out []catalog.RegisteredModelAlias
	for name, v := range mr.aliases {
		if n == 0 || v == n {
			out = append(out, catalog.RegisteredModelAlias{
				AliasName: name, VersionNum: v, CatalogName: mr.info.CatalogName,
				SchemaName: mr.info.SchemaName, ModelName: mr.info.Name,
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AliasName < out[j].AliasName })
	return out
}

func (mr *modelRec) render(v *versionRec, withAliases bool) catalog.ModelVersionInfo {
	out := v.info
	if withAliases {
		out.Aliases = mr.aliasesOf(v.info.Version)
	}
	return out
}

func (mr *modelRec) renderModel(withAliases bool) catalog.RegisteredModelInfo {
	out := mr.info
	if withAliases {
		out.Aliases = mr.aliasesOf(0)
	}
	return out
}
