package unitycatalog

import (
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/catalog"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// Every operation takes the calling principal (the workspace's user) and
// checks its privileges as the service does.

func versionMissing(full string, v int) *core.Error {
	return core.NotFound("Model version %d of Routine or Model '%s' does not exist.", v, full)
}

func aliasMissing(full, alias string) *core.Error {
	return core.NotFound("Alias '%s' of Routine or Model '%s' does not exist.", alias, full)
}

// aliasName is MLflow's client-side alias check (mlflow/utils/validation.py:
// _REGISTERED_MODEL_ALIAS_REGEX `^[\w\-]*$`, at most 255 characters): word
// characters and dashes. No public source gives the service's own rule; the
// emulator refuses only what MLflow's client would not send. MLflow reserves
// "latest" and v<number> in its own stores, not in the Unity Catalog one.
var aliasName = regexp.MustCompile(`^[\w-]{1,255}$`)

func checkAlias(alias string) *core.Error {
	if !aliasName.MatchString(alias) {
		return core.InvalidParam("Invalid alias name '%s'. Names may only contain alphanumerics, underscores (_), and dashes (-).", alias)
	}
	return nil
}

// CreateModel creates a registered model as principal.
func (m *Metastore) CreateModel(principal string, req catalog.CreateRegisteredModelRequest) (catalog.RegisteredModelInfo, *core.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cat, schema, name := norm(req.CatalogName), norm(req.SchemaName), norm(req.Name)
	if cat == "" || schema == "" || name == "" {
		return catalog.RegisteredModelInfo{}, core.InvalidParam("catalog_name, schema_name and name are required.")
	}
	if !validName.MatchString(name) {
		return catalog.RegisteredModelInfo{}, core.InvalidParam("Invalid name '%s': names cannot contain spaces, periods, forward slashes, or control characters.", req.Name)
	}
	sch := cat + "." + schema
	if aerr := m.schemaExists(sch); aerr != nil {
		return catalog.RegisteredModelInfo{}, aerr
	}
	if aerr := m.canEnter(principal, sch); aerr != nil {
		return catalog.RegisteredModelInfo{}, aerr
	}
	sk := key{typeSchema, sch}
	if !m.owns(principal, sk) && !m.granted(principal, sk, catalog.PrivilegeCreateModel) && !m.granted(principal, sk, catalog.PrivilegeCreateFunction) {
		return catalog.RegisteredModelInfo{}, denied(catalog.PrivilegeCreateModel, sk)
	}
	full := sch + "." + name
	if m.models[full] != nil {
		return catalog.RegisteredModelInfo{}, core.NewError(http.StatusConflict, core.CodeAlreadyExists, "Routine or Model '%s' already exists.", full)
	}
	owner := req.Owner
	if owner == "" {
		owner = principal
	}
	now := m.now().UnixMilli()
	mr := &modelRec{
		info: catalog.RegisteredModelInfo{
			Name: name, CatalogName: cat, SchemaName: schema, FullName: full, Comment: req.Comment,
			Owner: owner, CreatedBy: principal, UpdatedBy: principal, CreatedAt: now, UpdatedAt: now,
			MetastoreId: m.id, StorageLocation: "s3://emulator-metastore/models/" + m.uuid(),
		},
		aliases: map[string]int{},
	}
	m.models[full] = mr
	return mr.renderModel(true), nil
}

// GetModel returns a registered model.
func (m *Metastore) GetModel(principal, full string, withAliases bool) (catalog.RegisteredModelInfo, *core.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mr, aerr := m.readable(principal, full)
	if aerr != nil {
		return catalog.RegisteredModelInfo{}, aerr
	}
	return mr.renderModel(withAliases), nil
}

// readable finds a model the principal may read. Call with m.mu held.
func (m *Metastore) readable(principal, full string) (*modelRec, *core.Error) {
	mr, aerr := m.model(full)
	if aerr != nil {
		return nil, aerr
	}
	return mr, m.canRead(principal, mr)
}

// manageable finds a model the principal may change. Call with m.mu held.
func (m *Metastore) manageable(principal, full string) (*modelRec, *core.Error) {
	mr, aerr := m.model(full)
	if aerr != nil {
		return nil, aerr
	}
	return mr, m.canManage(principal, mr)
}

// ListModels lists the models the principal may read, by full name, in
// pages of maxResults (default and cap 1000) after the offset token.
func (m *Metastore) ListModels(principal string, req catalog.ListRegisteredModelsRequest) (catalog.ListRegisteredModelsResponse, *core.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cat, schema := norm(req.CatalogName), norm(req.SchemaName)
	if schema != "" && cat == "" {
		return catalog.ListRegisteredModelsResponse{}, core.InvalidParam("schema_name requires catalog_name.")
	}
	if cat != "" && m.catalogs[cat] == nil {
		return catalog.ListRegisteredModelsResponse{}, catalogMissing(cat)
	}
	if schema != "" {
		if aerr := m.schemaExists(cat + "." + schema); aerr != nil {
			return catalog.ListRegisteredModelsResponse{}, aerr
		}
	}
	var names []string
	for full, mr := range m.models {
		if (cat != "" && mr.info.CatalogName != cat) || (schema != "" && mr.info.SchemaName != schema) {
			continue
		}
		if m.canRead(principal, mr) == nil {
			names = append(names, full)
		}
	}
	sort.Strings(names)
	from, to, next, aerr := page(len(names), req.MaxResults, req.PageToken)
	if aerr != nil {
		return catalog.ListRegisteredModelsResponse{}, aerr
	}
	out := catalog.ListRegisteredModelsResponse{NextPageToken: next}
	for _, n := range names[from:to] {
		out.RegisteredModels = append(out.RegisteredModels, m.models[n].renderModel(false))
	}
	return out, nil
}

// page cuts one page: max results (0 is all up to 1000) after an offset
// token "o<n>".
func page(n, maxResults int, token string) (from, to int, next string, aerr *core.Error) {
	if maxResults < 0 || maxResults > 1000 {
		return 0, 0, "", core.InvalidParam("max_results must be between 0 and 1000, got %d.", maxResults)
	}
	if maxResults == 0 {
		maxResults = 1000
	}
	if token != "" {
		off, err := strconv.Atoi(strings.TrimPrefix(token, "o"))
		if err != nil || off < 0 || !strings.HasPrefix(token, "o") {
			return 0, 0, "", core.InvalidParam("Invalid page_token %q.", token)
		}
		from = off
	}
	from = min(from, n)
	to = min(from+maxResults, n)
	if to < n {
		next = "o" + strconv.Itoa(to)
	}
	return from, to, next, nil
}

// UpdateModel changes a model's comment or owner.
func (m *Metastore) UpdateModel(principal, full string, req catalog.UpdateRegisteredModelRequest) (catalog.RegisteredModelInfo, *core.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mr, aerr := m.manageable(principal, full)
	if aerr != nil {
		return catalog.RegisteredModelInfo{}, aerr
	}
	if req.NewName != "" && norm(req.NewName) != mr.info.Name {
		return catalog.RegisteredModelInfo{}, core.InvalidParam("Renaming a registered model is not supported by the emulator.")
	}
	if req.Comment != "" || contains(req.ForceSendFields, "Comment") {
		mr.info.Comment = req.Comment
	}
	if req.Owner != "" {
		mr.info.Owner = req.Owner
	}
	mr.info.UpdatedAt, mr.info.UpdatedBy = m.now().UnixMilli(), principal
	return mr.renderModel(true), nil
}

// DeleteModel deletes a model with its versions and aliases.
func (m *Metastore) DeleteModel(principal, full string) *core.Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mr, aerr := m.manageable(principal, full)
	if aerr != nil {
		return aerr
	}
	delete(m.models, mr.info.FullName)
	delete(m.grants, key{typeFunction, mr.info.FullName}.String())
	return nil
}

// SetAlias points alias at a version (moving it from another).
func (m *Metastore) SetAlias(principal, full, alias string, version int) (catalog.RegisteredModelAlias, *core.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if aerr := checkAlias(alias); aerr != nil {
		return catalog.RegisteredModelAlias{}, aerr
	}
	mr, aerr := m.manageable(principal, full)
	if aerr != nil {
		return catalog.RegisteredModelAlias{}, aerr
	}
	if mr.version(version) == nil {
		return catalog.RegisteredModelAlias{}, versionMissing(mr.info.FullName, version)
	}
	alias = strings.ToLower(alias)
	mr.aliases[alias] = version
	return catalog.RegisteredModelAlias{AliasName: alias, VersionNum: version,
		CatalogName: mr.info.CatalogName, SchemaName: mr.info.SchemaName, ModelName: mr.info.Name}, nil
}

// DeleteAlias removes an alias.
func (m *Metastore) DeleteAlias(principal, full, alias string) *core.Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mr, aerr := m.manageable(principal, full)
	if aerr != nil {
		return aerr
	}
	alias = strings.ToLower(alias)
	if _, ok := mr.aliases[alias]; !ok {
		return aliasMissing(mr.info.FullName, alias)
	}
	delete(mr.aliases, alias)
	return nil
}

// GetVersion returns a model version.
func (m *Metastore) GetVersion(principal, full string, version int, withAliases bool) (catalog.ModelVersionInfo, *core.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mr, aerr := m.readable(principal, full)
	if aerr != nil {
		return catalog.ModelVersionInfo{}, aerr
	}
	v := mr.version(version)
	if v == nil {
		return catalog.ModelVersionInfo{}, versionMissing(mr.info.FullName, version)
	}
	return mr.render(v, withAliases), nil
}

// VersionStatus is a version's status as principal may read it, for a
// serving endpoint that would serve it; version is the number a served
// entity names.
func (m *Metastore) VersionStatus(principal, full, version string) (string, *core.Error) {
	n, err := strconv.Atoi(version)
	if err != nil || n <= 0 {
		return "", core.InvalidParam("Invalid entity_version '%s' for Unity Catalog model %s: versions are positive integers.", version, full)
	}
	v, aerr := m.GetVersion(principal, full, n, false)
	if aerr != nil {
		return "", aerr
	}
	return string(v.Status), nil
}

// GetByAlias returns the version an alias points at.
func (m *Metastore) GetByAlias(principal, full, alias string, withAliases bool) (catalog.ModelVersionInfo, *core.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mr, aerr := m.readable(principal, full)
	if aerr != nil {
		return catalog.ModelVersionInfo{}, aerr
	}
	n, ok := mr.aliases[strings.ToLower(alias)]
	if !ok {
		return catalog.ModelVersionInfo{}, aliasMissing(mr.info.FullName, alias)
	}
	v := mr.version(n)
	return mr.render(v, withAliases), nil
}

// ListVersions lists a model's versions, newest first.
func (m *Metastore) ListVersions(principal, full string, req catalog.ListModelVersionsRequest) (catalog.ListModelVersionsResponse, *core.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mr, aerr := m.readable(principal, full)
	if aerr != nil {
		return catalog.ListModelVersionsResponse{}, aerr
	}
	vs := append([]*versionRec(nil), mr.versions...)
	sort.Slice(vs, func(i, j int) bool { return vs[i].info.Version > vs[j].info.Version })
	from, to, next, aerr := page(len(vs), req.MaxResults, req.PageToken)
	if aerr != nil {
		return catalog.ListModelVersionsResponse{}, aerr
	}
	out := catalog.ListModelVersionsResponse{NextPageToken: next}
	for _, v := range vs[from:to] {
		out.ModelVersions = append(out.ModelVersions, mr.render(v, false))
	}
	return out, nil
}

// UpdateVersion changes a version's comment.
func (m *Metastore) UpdateVersion(principal, full string, version int, req catalog.UpdateModelVersionRequest) (catalog.ModelVersionInfo, *core.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mr, aerr := m.manageable(principal, full)
	if aerr != nil {
		return catalog.ModelVersionInfo{}, aerr
	}
	v := mr.version(version)
	if v == nil {
		return catalog.ModelVersionInfo{}, versionMissing(mr.info.FullName, version)
	}
	if req.Comment != "" || contains(req.ForceSendFields, "Comment") {
		v.info.Comment = req.Comment
	}
	v.info.UpdatedAt, v.info.UpdatedBy = m.now().UnixMilli(), principal
	return mr.render(v, true), nil
}

// DeleteVersion deletes a version and the aliases pointing at it.
func (m *Metastore) DeleteVersion(principal, full string, version int) *core.Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mr, aerr := m.manageable(principal, full)
	if aerr != nil {
		return aerr
	}
	if !mr.deleteVersion(version) {
		return versionMissing(mr.info.FullName, version)
	}
	return nil
}

// deleteVersion removes a version and the aliases pointing at it; false
// when there is no such version.
func (mr *modelRec) deleteVersion(version int) bool {
	for i, v := range mr.versions {
		if v.info.Version == version {
			mr.versions = append(mr.versions[:i], mr.versions[i+1:]...)
			for a, n := range mr.aliases {
				if n == version {
					delete(mr.aliases, a)
				}
			}
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
