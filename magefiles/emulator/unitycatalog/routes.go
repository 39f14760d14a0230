package unitycatalog

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/databricks/databricks-sdk-go/service/catalog"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// Routes are the Unity Catalog routes databricks-sdk-go calls, answered as
// principal (the calling workspace's user).
func (m *Metastore) Routes(principal string) []core.Route {
	h := handlers{m: m, principal: principal}
	const uc = "/api/2.1/unity-catalog"
	return []core.Route{
		{Pattern: "GET " + uc + "/catalogs/{name}", Op: "uc.catalogs.get", Handle: h.catalogGet},
		{Pattern: "GET " + uc + "/schemas/{full_name}", Op: "uc.schemas.get", Handle: h.schemaGet},
		{Pattern: "POST " + uc + "/models", Op: "uc.models.create", Mutating: true, Handle: h.modelCreate},
		{Pattern: "GET " + uc + "/models", Op: "uc.models.list", Handle: h.modelList},
		{Pattern: "GET " + uc + "/models/{full_name}", Op: "uc.models.get", Handle: h.modelGet},
		{Pattern: "PATCH " + uc + "/models/{full_name}", Op: "uc.models.update", Mutating: true, Handle: h.modelUpdate},
		{Pattern: "DELETE " + uc + "/models/{full_name}", Op: "uc.models.delete", Mutating: true, Handle: h.modelDelete},
		{Pattern: "PUT " + uc + "/models/{full_name}/aliases/{alias}", Op: "uc.models.set-alias", Mutating: true, Handle: h.aliasSet},
		{Pattern: "DELETE " + uc + "/models/{full_name}/aliases/{alias}", Op: "uc.models.delete-alias", Mutating: true, Handle: h.aliasDelete},
		{Pattern: "GET " + uc + "/models/{full_name}/aliases/{alias}", Op: "uc.versions.get-by-alias", Handle: h.byAlias},
		{Pattern: "GET " + uc + "/models/{full_name}/versions", Op: "uc.versions.list", Handle: h.versionList},
		{Pattern: "GET " + uc + "/models/{full_name}/versions/{version}", Op: "uc.versions.get", Handle: h.versionGet},
		{Pattern: "PATCH " + uc + "/models/{full_name}/versions/{version}", Op: "uc.versions.update", Mutating: true, Handle: h.versionUpdate},
		{Pattern: "DELETE " + uc + "/models/{full_name}/versions/{version}", Op: "uc.versions.delete", Mutating: true, Handle: h.versionDelete},
		{Pattern: "GET " + uc + "/permissions/{securable_type}/{full_name}", Op: "uc.grants.get", Handle: h.grantsGet},
		{Pattern: "PATCH " + uc + "/permissions/{securable_type}/{full_name}", Op: "uc.grants.update", Mutating: true, Handle: h.grantsUpdate},
		{Pattern: "GET " + uc + "/effective-permissions/{securable_type}/{full_name}", Op: "uc.grants.get-effective", Handle: h.grantsEffective},
		{Pattern: "GET " + mlflowUC + "/model-versions/get", Op: "uc.mlflow.versions.get", Handle: h.mlflowVersionGet},
		{Pattern: "POST " + mlflowUC + "/model-versions/create", Op: "uc.mlflow.versions.create", Mutating: true, Handle: h.mlflowVersionCreate},
		{Pattern: "POST " + mlflowUC + "/model-versions/generate-temporary-credentials", Op: "uc.mlflow.versions.credentials", Mutating: true, Handle: h.mlflowCredentials},
		{Pattern: "POST " + mlflowUC + "/model-versions/finalize", Op: "uc.mlflow.versions.finalize", Mutating: true, Handle: h.mlflowVersionFinalize},
		{Pattern: "DELETE " + mlflowUC + "/model-versions/delete", Op: "uc.mlflow.versions.delete", Mutating: true, Handle: h.mlflowVersionDelete},
	}
}

type handlers struct {
	m         *Metastore
	principal string
}

func versionArg(r *http.Request) (int, *core.Error) {
	n, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || n <= 0 {
		return 0, core.InvalidParam("Invalid model version '%s': versions are positive integers.", r.PathValue("version"))
	}
	return n, nil
}

func (h handlers) catalogGet(r *http.Request) (any, *core.Error) {
	var req catalog.GetCatalogRequest
	if aerr := core.DecodeQuery(r, &req); aerr != nil {
		return nil, aerr
	}
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	name := norm(r.PathValue("name"))
	c := m.catalogs[name]
	if c == nil {
		return nil, catalogMissing(name)
	}
	if aerr := m.need(h.principal, key{typeCatalog, name}, catalog.PrivilegeUseCatalog); aerr != nil {
		return nil, aerr
	}
	return *c, nil
}

func (h handlers) schemaGet(r *http.Request) (any, *core.Error) {
	var req catalog.GetSchemaRequest
	if aerr := core.DecodeQuery(r, &req); aerr != nil {
		return nil, aerr
	}
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	full := norm(r.PathValue("full_name"))
	if aerr := m.schemaExists(full); aerr != nil {
		return nil, aerr
	}
	if aerr := m.need(h.principal, key{typeSchema, full}, catalog.PrivilegeUseSchema); aerr != nil {
		return nil, aerr
	}
	return *m.schemas[full], nil
}

func (h handlers) modelCreate(r *http.Request) (any, *core.Error) {
	var req catalog.CreateRegisteredModelRequest
	if aerr := core.DecodeBody(r, &req); aerr != nil {
		return nil, aerr
	}
	return h.m.CreateModel(h.principal, req)
}

func (h handlers) modelList(r *http.Request) (any, *core.Error) {
	var req catalog.ListRegisteredModelsRequest
	if aerr := core.DecodeQuery(r, &req); aerr != nil {
		return nil, aerr
	}
	return h.m.ListModels(h.principal, req)
}

func (h handlers) modelGet(r *http.Request) (any, *core.Error) {
	var req catalog.GetRegisteredModelRequest
	if aerr := core.DecodeQuery(r, &req); aerr != nil {
		return nil, aerr
	}
	return h.m.GetModel(h.principal, r.PathValue("full_name"), req.IncludeAliases)
}

func (h handlers) modelUpdate(r *http.Request) (any, *core.Error) {
	var req catalog.UpdateRegisteredModelRequest
	if aerr := core.DecodeBody(r, &req); aerr != nil {
		return nil, aerr
	}
	return h.m.UpdateModel(h.principal, r.PathValue("full_name"), req)
}

func (h handlers) modelDelete(r *http.Request) (any, *core.Error) {
	return nil, h.m.DeleteModel(h.principal, r.PathValue("full_name"))
}

func (h handlers) aliasSet(r *http.Request) (any, *core.Error) {
	var req catalog.SetRegisteredModelAliasRequest
	if aerr := core.DecodeBody(r, &req); aerr != nil {
		return nil, aerr
	}
	return h.m.SetAlias(h.principal, r.PathValue("full_name"), r.PathValue("alias"), req.VersionNum)
}

func (h handlers) aliasDelete(r *http.Request) (any, *core.Error) {
	return nil, h.m.DeleteAlias(h.principal, r.PathValue("full_name"), r.PathValue("alias"))
}

func (h handlers) byAlias(r *http.Request) (any, *core.Error) {
	var req catalog.GetByAliasRequest
	if aerr := core.DecodeQuery(r, &req); aerr != nil {
		return nil, aerr
	}
	return h.m.GetByAlias(h.principal, r.PathValue("full_name"), r.PathValue("alias"), req.IncludeAliases)
}

func (h handlers) versionList(r *http.Request) (any, *core.Error) {
	var req catalog.ListModelVersionsRequest
	if aerr := core.DecodeQuery(r, &req); aerr != nil {
		return nil, aerr
	}
	return h.m.ListVersions(h.principal, r.PathValue("full_name"), req)
}

func (h handlers) versionGet(r *http.Request) (any, *core.Error) {
	var req catalog.GetModelVersionRequest
	if aerr := core.DecodeQuery(r, &req); aerr != nil {
		return nil, aerr
	}
	n, aerr := versionArg(r)
	if aerr != nil {
		return nil, aerr
	}
	return h.m.GetVersion(h.principal, r.PathValue("full_name"), n, req.IncludeAliases)
}

func (h handlers) versionUpdate(r *http.Request) (any, *core.Error) {
	var req catalog.UpdateModelVersionRequest
	if aerr := core.DecodeBody(r, &req); aerr != nil {
		return nil, aerr
	}
	n, aerr := versionArg(r)
	if aerr != nil {
		return nil, aerr
	}
	return h.m.UpdateVersion(h.principal, r.PathValue("full_name"), n, req)
}

func (h handlers) versionDelete(r *http.Request) (any, *core.Error) {
	n, aerr := versionArg(r)
	if aerr != nil {
		return nil, aerr
	}
	return nil, h.m.DeleteVersion(h.principal, r.PathValue("full_name"), n)
}

func (h handlers) grantsGet(r *http.Request) (any, *core.Error) {
	var req catalog.GetGrantRequest
	if aerr := core.DecodeQuery(r, &req); aerr != nil {
		return nil, aerr
	}
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	k, aerr := m.securable(r.PathValue("securable_type"), r.PathValue("full_name"))
	if aerr != nil {
		return nil, aerr
	}
	return catalog.GetPermissionsResponse{PrivilegeAssignments: m.assignments(k, req.Principal)}, nil
}

func (h handlers) grantsEffective(r *http.Request) (any, *core.Error) {
	var req catalog.GetEffectiveRequest
	if aerr := core.DecodeQuery(r, &req); aerr != nil {
		return nil, aerr
	}
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	k, aerr := m.securable(r.PathValue("securable_type"), r.PathValue("full_name"))
	if aerr != nil {
		return nil, aerr
	}
	return catalog.EffectivePermissionsList{PrivilegeAssignments: m.effective(k, req.Principal)}, nil
}

func (h handlers) grantsUpdate(r *http.Request) (any, *core.Error) {
	var req catalog.UpdatePermissions
	if aerr := core.DecodeBody(r, &req); aerr != nil {
		return nil, aerr
	}
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	k, aerr := m.securable(r.PathValue("securable_type"), r.PathValue("full_name"))
	if aerr != nil {
		return nil, aerr
	}
	if aerr := m.canGrant(h.principal, k); aerr != nil {
		return nil, aerr
	}
	if aerr := m.applyChanges(k, req.Changes); aerr != nil {
		return nil, aerr
	}
	return catalog.UpdatePermissionsResponse{PrivilegeAssignments: m.assignments(k, "")}, nil
}

// mlflowVersion is the model version of MLflow's Unity Catalog registry
// API, which, unlike the 2.1 API, carries the status message.
type mlflowVersion struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	Source        string `json:"source,omitempty"`
	RunID         string `json:"run_id,omitempty"`
	Status        string `json:"status"`
	StatusMessage string `json:"status_message,omitempty"`
	Description   string `json:"description,omitempty"`
	Created       int64  `json:"creation_timestamp"`
	Updated       int64  `json:"last_updated_timestamp"`
	// StorageLocation is where create tells the client to upload the files.
	StorageLocation string `json:"storage_location,omitempty"`
}

// mlflowUC is the prefix of MLflow's Unity Catalog registry API
// (mlflow/protos/databricks_uc_registry_service.proto).
const mlflowUC = "/api/2.0/mlflow/unity-catalog"

// mlflowVersionOf renders a version as MLflow's Unity Catalog API does.
func (h handlers) mlflowVersionOf(full string, v catalog.ModelVersionInfo) map[string]mlflowVersion {
	_, msg, _ := h.m.ModelVersion(full, v.Version)
	return map[string]mlflowVersion{"model_version": {
		Name: norm(full), Version: strconv.Itoa(v.Version), Source: v.Source, RunID: v.RunId,
		Status: string(v.Status), StatusMessage: msg, Description: v.Comment,
		Created: v.CreatedAt, Updated: v.UpdatedAt, StorageLocation: v.StorageLocation,
	}}
}

func (h handlers) mlflowVersionGet(r *http.Request) (any, *core.Error) {
	q := r.URL.Query()
	n, aerr := mlflowVersionNumber(q.Get("version"))
	if aerr != nil {
		return nil, aerr
	}
	v, aerr := h.m.GetVersion(h.principal, q.Get("name"), n, false)
	if aerr != nil {
		return nil, aerr
	}
	return h.mlflowVersionOf(q.Get("name"), v), nil
}

func mlflowVersionNumber(s string) (int, *core.Error) {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, core.InvalidParam("Invalid model version '%s'.", s)
	}
	return n, nil
}

// mlflowCreateRequest is CreateModelVersionRequest
// (databricks_uc_registry_messages.proto); the fields the emulator does not
// keep are accepted and dropped.
type mlflowCreateRequest struct {
	Name                     string            `json:"name"`
	Source                   string            `json:"source"`
	RunID                    string            `json:"run_id"`
	Description              string            `json:"description"`
	RunTrackingServerID      string            `json:"run_tracking_server_id"`
	FeatureDeps              string            `json:"feature_deps"`
	Tags                     []json.RawMessage `json:"tags"`
	ModelVersionDependencies []json.RawMessage `json:"model_version_dependencies"`
	ModelID                  string            `json:"model_id"`
}

func (h handlers) mlflowVersionCreate(r *http.Request) (any, *core.Error) {
	var req mlflowCreateRequest
	if aerr := core.DecodeBody(r, &req); aerr != nil {
		return nil, aerr
	}
	if req.Name == "" || req.Source == "" {
		return nil, core.InvalidParam("name and source are required.")
	}
	v, err := h.m.CreateVersion(h.principal, req.Name, NewVersion{Source: req.Source, RunID: req.RunID, Comment: req.Description})
	if err != nil {
		return nil, asAPIError(err)
	}
	return h.mlflowVersionOf(req.Name, v), nil
}

// mlflowVersionRef is the name and version of Finalize, Delete and
// GenerateTemporaryModelVersionCredentials requests.
type mlflowVersionRef struct {
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	Operation Operation `json:"operation,omitempty"`
}

func (h handlers) decodeRef(r *http.Request) (mlflowVersionRef, int, *core.Error) {
	var req mlflowVersionRef
	if aerr := core.DecodeBody(r, &req); aerr != nil {
		return req, 0, aerr
	}
	n, aerr := mlflowVersionNumber(req.Version)
	return req, n, aerr
}

func (h handlers) mlflowCredentials(r *http.Request) (any, *core.Error) {
	req, n, aerr := h.decodeRef(r)
	if aerr != nil {
		return nil, aerr
	}
	c, err := h.m.VersionCredentials(h.principal, req.Name, n, req.Operation)
	if err != nil {
		return nil, asAPIError(err)
	}
	return map[string]Credentials{"credentials": c}, nil
}

func (h handlers) mlflowVersionFinalize(r *http.Request) (any, *core.Error) {
	req, n, aerr := h.decodeRef(r)
	if aerr != nil {
		return nil, aerr
	}
	v, err := h.m.FinalizeVersion(h.principal, req.Name, n)
	if err != nil {
		return nil, asAPIError(err)
	}
	return h.mlflowVersionOf(req.Name, v), nil
}

func (h handlers) mlflowVersionDelete(r *http.Request) (any, *core.Error) {
	req, n, aerr := h.decodeRef(r)
	if aerr != nil {
		return nil, aerr
	}
	return struct{}{}, h.m.DeleteVersion(h.principal, req.Name, n)
}

// asAPIError is err as the API answer it stands for.
func asAPIError(err error) *core.Error {
	var aerr *core.Error
	if errors.As(err, &aerr) {
		return aerr
	}
	return core.NewError(http.StatusInternalServerError, "INTERNAL_ERROR", "%s", err.Error())
}
