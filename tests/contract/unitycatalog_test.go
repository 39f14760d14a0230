package contract

import (
	"net/http"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// ucPair is two workspaces attached to one metastore: dev owns catalog dev
// with schema s and model dev.s.m (one READY version); staging is a second
// principal with no grant.
type ucPair struct {
	ws           *emulator.Workspaces
	dev, staging *databricks.WorkspaceClient
}

func startPair(t *testing.T) ucPair {
	t.Helper()
	ws, err := emulator.StartWorkspaces([]string{"dev", "staging"}, emulator.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.Close() })
	uc := ws.Metastore()
	devUser := ws.Get("dev").UserName()
	require.NoError(t, uc.CreateCatalog(devUser, "dev"))
	require.NoError(t, uc.CreateSchema(devUser, "dev", "s"))
	dev, err := ws.Get("dev").WorkspaceClient()
	require.NoError(t, err)
	staging, err := ws.Get("staging").WorkspaceClient()
	require.NoError(t, err)
	_, err = dev.RegisteredModels.Create(testCtx(t), catalog.CreateRegisteredModelRequest{CatalogName: "dev", SchemaName: "s", Name: "m"})
	require.NoError(t, err)
	_, err = uc.RegisterVersion(devUser, "dev.s.m", ucVersion())
	require.NoError(t, err)
	return ucPair{ws: ws, dev: dev, staging: staging}
}

// TestUnityCatalogMissingThings: a missing catalog is 404
// CATALOG_DOES_NOT_EXIST "Catalog 'x' does not exist.", a missing schema
// 404 SCHEMA_DOES_NOT_EXIST "Schema 'c.s' does not exist." (Databricks
// docs, "Audit and monitor data sharing", error list:
// "CATALOG_DOES_NOT_EXIST: Catalog '<catalog>' does not exist.",
// "SCHEMA_DOES_NOT_EXIST: Schema '<name>' does not exist"; the Databricks
// JS SDK's error tests decode a 404 with CATALOG_DOES_NOT_EXIST), a
// missing model 404 RESOURCE_DOES_NOT_EXIST "Routine or Model 'c.s.m' does
// not exist." (quoted from the service by users of mlflow's databricks-uc
// registry and by `databricks registered-models get`). No public source
// quotes the message of a missing version or alias; the emulator answers
// 404 RESOURCE_DOES_NOT_EXIST for both.
func TestUnityCatalogMissingThings(t *testing.T) {
	p := startPair(t)
	ctx := testCtx(t)
	cases := []struct {
		name, code, message string
		call                func() error
	}{
		{"catalog", "CATALOG_DOES_NOT_EXIST", "Catalog 'nope' does not exist.", func() error {
			_, err := p.dev.Catalogs.GetByName(ctx, "nope")
			return err
		}},
		{"schema", "SCHEMA_DOES_NOT_EXIST", "Schema 'dev.nope' does not exist.", func() error {
			_, err := p.dev.Schemas.GetByFullName(ctx, "dev.nope")
			return err
		}},
		{"model", "RESOURCE_DOES_NOT_EXIST", "Routine or Model 'dev.s.nope' does not exist.", func() error {
			_, err := p.dev.RegisteredModels.Get(ctx, catalog.GetRegisteredModelRequest{FullName: "dev.s.nope"})
			return err
		}},
		{"model in a missing catalog", "CATALOG_DOES_NOT_EXIST", "Catalog 'prod' does not exist.", func() error {
			_, err := p.dev.ModelVersions.Get(ctx, catalog.GetModelVersionRequest{FullName: "prod.s.m", Version: 1})
			return err
		}},
		{"version", "RESOURCE_DOES_NOT_EXIST", "Model version 9 of Routine or Model 'dev.s.m' does not exist.", func() error {
			_, err := p.dev.ModelVersions.Get(ctx, catalog.GetModelVersionRequest{FullName: "dev.s.m", Version: 9})
			return err
		}},
		{"alias", "RESOURCE_DOES_NOT_EXIST", "Alias 'champion' of Routine or Model 'dev.s.m' does not exist.", func() error {
			_, err := p.dev.ModelVersions.GetByAlias(ctx, catalog.GetByAliasRequest{FullName: "dev.s.m", Alias: "champion"})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ae := apiError(t, tc.call())
			assert.Equal(t, http.StatusNotFound, ae.StatusCode)
			assert.Equal(t, tc.code, ae.ErrorCode)
			assert.Equal(t, tc.message, ae.Message)
		})
	}
}

// TestUnityCatalogPermissionDenied: without a grant a principal is refused
// with 403 PERMISSION_DENIED naming the privilege and securable: "User does
// not have USE CATALOG on Catalog '__databricks_internal'."
// (databricks-demos/dbdemos#74), "User does not have USE SCHEMA on Schema
// 'system.access'." and "User does not have EXECUTE on routine or model"
// (quoted by users of the service), "PERMISSION_DENIED: User does not have
// CREATE MODEL on schema" (quoted from mlflow's databricks-uc registry).
// The rules are the API reference's (Get a model version: "metastore
// admin or an owner of (or have the EXECUTE privilege on) the parent
// registered model ... must also be the owner or have the USE_CATALOG
// privilege on the parent catalog and the USE_SCHEMA privilege on the
// parent schema"); grants on a catalog apply to what it holds.
func TestUnityCatalogPermissionDenied(t *testing.T) {
	p := startPair(t)
	ctx := testCtx(t)
	uc := p.ws.Metastore()
	stagingUser := p.ws.Get("staging").UserName()
	get := func() error {
		_, err := p.staging.ModelVersions.Get(ctx, catalog.GetModelVersionRequest{FullName: "dev.s.m", Version: 1})
		return err
	}
	steps := []struct {
		grant   []catalog.Privilege
		on      catalog.SecurableType
		name    string
		message string
	}{
		{nil, "", "", "User does not have USE CATALOG on Catalog 'dev'."},
		{[]catalog.Privilege{catalog.PrivilegeUseCatalog}, catalog.SecurableTypeCatalog, "dev", "User does not have USE SCHEMA on Schema 'dev.s'."},
		{[]catalog.Privilege{catalog.PrivilegeUseSchema}, catalog.SecurableTypeSchema, "dev.s", "User does not have EXECUTE on Routine or Model 'dev.s.m'."},
		{[]catalog.Privilege{catalog.PrivilegeExecute}, catalog.SecurableTypeFunction, "dev.s.m", ""},
	}
	for _, st := range steps {
		if st.grant != nil {
			require.NoError(t, uc.Grant(st.on, st.name, stagingUser, st.grant...))
		}
		err := get()
		if st.message == "" {
			require.NoError(t, err)
			continue
		}
		ae := apiError(t, err)
		assert.Equal(t, http.StatusForbidden, ae.StatusCode)
		assert.Equal(t, "PERMISSION_DENIED", ae.ErrorCode)
		assert.Equal(t, st.message, ae.Message)
	}
	// Reading is not managing: setting an alias needs ownership (or MANAGE).
	_, err := p.staging.RegisteredModels.SetAlias(ctx, catalog.SetRegisteredModelAliasRequest{FullName: "dev.s.m", Alias: "champion", VersionNum: 1})
	ae := apiError(t, err)
	assert.Equal(t, "PERMISSION_DENIED", ae.ErrorCode)
	assert.Equal(t, "User does not have MANAGE on Routine or Model 'dev.s.m'.", ae.Message)
	// Creating a model needs CREATE_MODEL on the schema.
	_, err = p.staging.RegisteredModels.Create(ctx, catalog.CreateRegisteredModelRequest{CatalogName: "dev", SchemaName: "s", Name: "other"})
	ae = apiError(t, err)
	assert.Equal(t, "User does not have CREATE MODEL on Schema 'dev.s'.", ae.Message)
	// Revoking takes it away again.
	require.NoError(t, uc.Revoke(catalog.SecurableTypeFunction, "dev.s.m", stagingUser, catalog.PrivilegeExecute))
	assert.Equal(t, "User does not have EXECUTE on Routine or Model 'dev.s.m'.", apiError(t, get()).Message)
}

// TestUnityCatalogDuplicateModel: creating a model that exists is
// RESOURCE_ALREADY_EXISTS "Routine or Model '<name>' already exists" (quoted
// from the service by users of the Databricks SDK); the SDK maps the code
// to ErrResourceAlreadyExists. No public source gives the status; the
// emulator answers 409.
func TestUnityCatalogDuplicateModel(t *testing.T) {
	p := startPair(t)
	_, err := p.dev.RegisteredModels.Create(testCtx(t), catalog.CreateRegisteredModelRequest{CatalogName: "dev", SchemaName: "s", Name: "m"})
	ae := apiError(t, err)
	assert.Equal(t, "RESOURCE_ALREADY_EXISTS", ae.ErrorCode)
	assert.Equal(t, "Routine or Model 'dev.s.m' already exists.", ae.Message)
}

// TestUnityCatalogAliases: aliases are set with PUT .../aliases/{alias},
// read with include_aliases and get-by-alias, and are case-insensitive
// (databricks/mlops-stacks#160: "mlflow UC model registry does not
// different upper/lower case in alias"). No public source quotes the
// refusal of an alias with a hyphen; the project's design allows letters,
// digits and underscores only and MLflow reserves "latest" and v<number>
// (mlflow/mlflow#8164), so the emulator answers 400 INVALID_PARAMETER_VALUE.
func TestUnityCatalogAliases(t *testing.T) {
	p := startPair(t)
	ctx := testCtx(t)
	for _, bad := range []string{"my-alias", "latest", "v2"} {
		_, err := p.dev.RegisteredModels.SetAlias(ctx, catalog.SetRegisteredModelAliasRequest{FullName: "dev.s.m", Alias: bad, VersionNum: 1})
		ae := apiError(t, err)
		assert.Equal(t, http.StatusBadRequest, ae.StatusCode, bad)
		assert.Equal(t, "INVALID_PARAMETER_VALUE", ae.ErrorCode, bad)
	}
	a, err := p.dev.RegisteredModels.SetAlias(ctx, catalog.SetRegisteredModelAliasRequest{FullName: "dev.s.m", Alias: "Champion", VersionNum: 1})
	require.NoError(t, err)
	assert.Equal(t, "champion", a.AliasName)
	v, err := p.dev.ModelVersions.GetByAlias(ctx, catalog.GetByAliasRequest{FullName: "dev.s.m", Alias: "CHAMPION", IncludeAliases: true})
	require.NoError(t, err)
	assert.Equal(t, 1, v.Version)
	require.Len(t, v.Aliases, 1)
	m, err := p.dev.RegisteredModels.Get(ctx, catalog.GetRegisteredModelRequest{FullName: "dev.s.m", IncludeAliases: true})
	require.NoError(t, err)
	require.Len(t, m.Aliases, 1)
	assert.Equal(t, "champion", m.Aliases[0].AliasName)
	assert.Equal(t, 1, m.Aliases[0].VersionNum)
	require.NoError(t, p.dev.RegisteredModels.DeleteAlias(ctx, catalog.DeleteAliasRequest{FullName: "dev.s.m", Alias: "champion"}))
	_, err = p.dev.ModelVersions.GetByAlias(ctx, catalog.GetByAliasRequest{FullName: "dev.s.m", Alias: "champion"})
	assert.Equal(t, http.StatusNotFound, apiError(t, err).StatusCode)
}

// TestLegacyRegistryDisabled: on a workspace whose legacy registry is
// disabled, every workspace model registry route answers 403
// PERMISSION_DENIED "The legacy workspace model registry is disabled for
// the current Databricks workspace." (quoted from the service as mlflow's
// databricks registry reports it, "PERMISSION_DENIED: The legacy workspace
// model registry is disabled for the current Databricks workspace.", and
// by a workspace collector: "/api/2.0/mlflow returns 403 with 'legacy
// workspace model registry is disabled'").
func TestLegacyRegistryDisabled(t *testing.T) {
	ws := startUC(t, emulator.Options{})
	ctx := testCtx(t)
	calls := map[string]func() error{
		"create model": func() error {
			_, err := ws.w.ModelRegistry.CreateModel(ctx, ml.CreateModelRequest{Name: "m"})
			return err
		},
		"get model": func() error {
			_, err := ws.w.ModelRegistry.GetModel(ctx, ml.GetModelRequest{Name: "m"})
			return err
		},
		"search versions": func() error {
			_, err := ws.w.ModelRegistry.SearchModelVersionsAll(ctx, ml.SearchModelVersionsRequest{Filter: "name='m'"})
			return err
		},
		"transition requests": func() error {
			_, err := ws.w.ModelRegistry.ListTransitionRequestsAll(ctx, ml.ListTransitionRequestsRequest{Name: "m", Version: "1"})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			ae := apiError(t, call())
			assert.Equal(t, http.StatusForbidden, ae.StatusCode)
			assert.Equal(t, "PERMISSION_DENIED", ae.ErrorCode)
			assert.Equal(t, "The legacy workspace model registry is disabled for the current Databricks workspace.", ae.Message)
		})
	}
}

// TestUnityCatalogVersionStatus: a new version is PENDING_REGISTRATION,
// then READY (the SDK's ModelVersionInfo.Status: "Newly created model
// versions start in PENDING_REGISTRATION status, then move to READY
// status once the model files are uploaded"), or FAILED_REGISTRATION.
// The 2.1 API has no status message; MLflow's Unity Catalog registry route
// /api/2.0/mlflow/unity-catalog/model-versions/get (mlflow's
// UcModelRegistryStore) returns the version with status_message.
func TestUnityCatalogVersionStatus(t *testing.T) {
	p := startPair(t)
	ctx := testCtx(t)
	uc := p.ws.Metastore()
	devUser := p.ws.Get("dev").UserName()
	uc.FailNextRegistration("dev.s.m", "model files could not be uploaded")
	_, err := uc.RegisterVersion(devUser, "dev.s.m", ucVersion())
	require.NoError(t, err)
	uc.HoldNextRegistration("dev.s.m")
	_, err = uc.RegisterVersion(devUser, "dev.s.m", ucVersion())
	require.NoError(t, err)
	want := map[int]catalog.ModelVersionInfoStatus{
		1: catalog.ModelVersionInfoStatusReady,
		2: catalog.ModelVersionInfoStatusFailedRegistration,
		3: catalog.ModelVersionInfoStatusPendingRegistration,
	}
	for n, status := range want {
		v, err := p.dev.ModelVersions.Get(ctx, catalog.GetModelVersionRequest{FullName: "dev.s.m", Version: n})
		require.NoError(t, err)
		assert.Equal(t, status, v.Status, "version %d", n)
	}
	all, err := p.dev.ModelVersions.ListAll(ctx, catalog.ListModelVersionsRequest{FullName: "dev.s.m"})
	require.NoError(t, err)
	assert.Len(t, all, 3)
	var body struct {
		ModelVersion struct {
			Status        string `json:"status"`
			StatusMessage string `json:"status_message"`
		} `json:"model_version"`
	}
	ws := emulated{srv: p.ws.Get("dev"), w: p.dev}
	status, data, _ := ws.raw(t, http.MethodGet, "/api/2.0/mlflow/unity-catalog/model-versions/get?name=dev.s.m&version=2", nil)
	require.Equal(t, http.StatusOK, status, string(data))
	require.NoError(t, jsonUnmarshal(data, &body))
	assert.Equal(t, "FAILED_REGISTRATION", body.ModelVersion.Status)
	assert.Equal(t, "model files could not be uploaded", body.ModelVersion.StatusMessage)
}
