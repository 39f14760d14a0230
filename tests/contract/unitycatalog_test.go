package contract

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

// ucPair is two workspaces attached to one metastore: dev owns catalog dev
// with schema s and model dev.s.m (one READY version); staging is a second
// principal with no grant.
type ucPair struct {
	ws           *emulator.Workspaces
	dev, staging *databricks.WorkspaceClient
}

func startPair(t *testing.T, metastore ...unitycatalog.Options) ucPair {
	t.Helper()
	opts := emulator.Options{}
	if len(metastore) > 0 {
		opts.Metastore = unitycatalog.New(metastore[0])
	}
	ws, err := emulator.StartWorkspaces([]string{"dev", "staging"}, opts)
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
	// Creating a model needs CREATE_MODEL on the schema.
	_, err := p.staging.RegisteredModels.Create(ctx, catalog.CreateRegisteredModelRequest{CatalogName: "dev", SchemaName: "s", Name: "other"})
	ae := apiError(t, err)
	assert.Equal(t, "User does not have CREATE MODEL on Schema 'dev.s'.", ae.Message)
	// Revoking takes it away again.
	require.NoError(t, uc.Revoke(catalog.SecurableTypeFunction, "dev.s.m", stagingUser, catalog.PrivilegeExecute))
	assert.Equal(t, "User does not have EXECUTE on Routine or Model 'dev.s.m'.", apiError(t, get()).Message)
}

// TestUnityCatalogOnlyTheOwnerChangesAModel: who may register a version
// and move an alias. Two readings exist:
//
//   - the owner only: the SDK's RegisteredModels.SetAlias, DeleteAlias,
//     Update and ModelVersions.Update, Delete ("The caller must be a
//     metastore admin or an owner of the registered model"), the
//     RegisteredModels doc ("To update other registered model or model
//     version metadata (comments, aliases) create a new model version ...
//     users must be owners of the registered model") and the older "Upgrade
//     ML workflows" page ("Only the owner of a registered model can ...
//     Create a new model version. Set an alias");
//   - the current "Upgrade ML workflows" page: "To create a new model
//     version, the principal must be the owner of the registered model, or
//     have the CREATE MODEL VERSION privilege on it"; aliases stay the
//     owner's ("To set an alias on a registered model, the principal must be
//     the owner").
//
// The emulator follows the first by default and the second with
// unitycatalog.Options.ModelVersionGrants. MANAGE ("manage privileges on,
// transfer ownership of, and delete an object", privileges reference) moves
// no alias in either. No public source quotes the refusal's message; the
// emulator's "User is not an owner of ..." is its own.
func TestUnityCatalogOnlyTheOwnerChangesAModel(t *testing.T) {
	for _, tc := range []struct {
		name          string
		opts          unitycatalog.Options
		grant         []catalog.Privilege
		createMessage string
	}{
		{"owner only, MANAGE", unitycatalog.Options{}, []catalog.Privilege{catalog.PrivilegeManage},
			"User is not an owner of Routine or Model 'dev.s.m'."},
		{"owner only, CREATE MODEL VERSION", unitycatalog.Options{}, []catalog.Privilege{unitycatalog.PrivilegeCreateModelVersion},
			"User is not an owner of Routine or Model 'dev.s.m'."},
		{"version grants, MANAGE", unitycatalog.Options{ModelVersionGrants: true}, []catalog.Privilege{catalog.PrivilegeManage},
			"User does not have CREATE MODEL VERSION on Routine or Model 'dev.s.m'."},
		{"version grants, CREATE MODEL VERSION", unitycatalog.Options{ModelVersionGrants: true}, []catalog.Privilege{unitycatalog.PrivilegeCreateModelVersion}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPair(t, tc.opts)
			ctx := testCtx(t)
			stagingUser := p.ws.Get("staging").UserName()
			require.NoError(t, p.ws.Metastore().Grant(catalog.SecurableTypeCatalog, "dev", stagingUser, catalog.PrivilegeUseCatalog, catalog.PrivilegeUseSchema, catalog.PrivilegeExecute))
			require.NoError(t, p.ws.Metastore().Grant(catalog.SecurableTypeFunction, "dev.s.m", stagingUser, tc.grant...))
			staging := emulated{srv: p.ws.Get("staging"), w: p.staging}
			status, data, _ := staging.raw(t, http.MethodPost, "/api/2.0/mlflow/unity-catalog/model-versions/create", map[string]string{"name": "dev.s.m", "source": "models:/dev.s.m/1"})
			if tc.createMessage == "" {
				assert.Equal(t, http.StatusOK, status, string(data))
			} else {
				assert.Equal(t, http.StatusForbidden, status)
				assert.Contains(t, string(data), tc.createMessage)
			}
			_, err := p.staging.RegisteredModels.SetAlias(ctx, catalog.SetRegisteredModelAliasRequest{FullName: "dev.s.m", Alias: "champion", VersionNum: 1})
			ae := apiError(t, err)
			assert.Equal(t, "PERMISSION_DENIED", ae.ErrorCode)
			assert.Equal(t, "User is not an owner of Routine or Model 'dev.s.m'.", ae.Message)
		})
	}
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
// different upper/lower case in alias"). No public source gives the
// service's rule for alias names; the emulator refuses what MLflow's client
// refuses before it sends (mlflow/utils/validation.py,
// _REGISTERED_MODEL_ALIAS_REGEX `^[\w\-]*$`: "Names may only contain
// alphanumerics, underscores (_), and dashes (-)") and accepts the rest,
// dashes included; MLflow reserves "latest" and v<number> only in its own
// stores, so the emulator does not refuse them either.
func TestUnityCatalogAliases(t *testing.T) {
	p := startPair(t)
	ctx := testCtx(t)
	for _, good := range []string{"my-alias", "latest", "v2"} {
		_, err := p.dev.RegisteredModels.SetAlias(ctx, catalog.SetRegisteredModelAliasRequest{FullName: "dev.s.m", Alias: good, VersionNum: 1})
		require.NoError(t, err, good)
		require.NoError(t, p.dev.RegisteredModels.DeleteAlias(ctx, catalog.DeleteAliasRequest{FullName: "dev.s.m", Alias: good}))
	}
	for _, bad := range []string{"my.alias", "my alias"} {
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

// TestUnityCatalogRegistrationProtocol: a version is registered as
// MLflow's Unity Catalog store registers it (mlflow/store/_unity_catalog/
// registry/rest_store.py, create_model_version, and the routes of
// databricks_uc_registry_service.proto): POST model-versions/create answers
// the version PENDING_REGISTRATION with its storage_location; POST
// model-versions/generate-temporary-credentials (operation
// MODEL_VERSION_OPERATION_READ_WRITE) gives credentials for it; the client
// uploads; POST model-versions/finalize makes it READY ("updating its status
// from PENDING_REGISTRATION to READY", _finalize_model_version). The SDK
// says the same of the 2.1 API: "Newly created model versions start in
// PENDING_REGISTRATION status, then move to READY status once the model
// version files are uploaded and the model version is finalized"
// (service/catalog ModelVersionInfo.Status). The client does not wait after
// finalize ("a successful creation will immediately place the model version
// in a READY state", _await_model_version_creation) and nothing else
// finalizes: a version whose upload died stays PENDING_REGISTRATION, and
// reading it later finds it so. The 2.1 API has no status message; MLflow's
// model-versions/get carries status_message. No public source shows a
// finalize that fails, nor the refusal of write credentials for a finalized
// version: the emulator's FAILED_REGISTRATION (scripted) and that refusal
// are its own.
func TestUnityCatalogRegistrationProtocol(t *testing.T) {
	p := startPair(t)
	dev := emulated{srv: p.ws.Get("dev"), w: p.dev}
	type version struct {
		Version         string `json:"version"`
		Status          string `json:"status"`
		StatusMessage   string `json:"status_message"`
		StorageLocation string `json:"storage_location"`
		Source          string `json:"source"`
		RunID           string `json:"run_id"`
	}
	call := func(method, route string, body any) (int, version, string) {
		status, data, _ := dev.raw(t, method, "/api/2.0/mlflow/unity-catalog/model-versions/"+route, body)
		var out struct {
			ModelVersion version `json:"model_version"`
		}
		_ = jsonUnmarshal(data, &out)
		return status, out.ModelVersion, string(data)
	}
	get := func(n string) catalog.ModelVersionInfoStatus {
		v, err := p.dev.ModelVersions.Get(testCtx(t), catalog.GetModelVersionRequest{FullName: "dev.s.m", Version: versionNumber(t, n)})
		require.NoError(t, err)
		return v.Status
	}

	status, created, body := call(http.MethodPost, "create", map[string]any{"name": "dev.s.m", "source": "dbfs:/runs/abc/artifacts/agent", "run_id": "abc", "description": "d", "tags": []any{}})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "2", created.Version)
	assert.Equal(t, "PENDING_REGISTRATION", created.Status)
	assert.NotEmpty(t, created.StorageLocation)
	assert.Equal(t, catalog.ModelVersionInfoStatusPendingRegistration, get("2"))

	status, _, body = call(http.MethodPost, "generate-temporary-credentials", map[string]string{"name": "dev.s.m", "version": "2", "operation": "MODEL_VERSION_OPERATION_READ_WRITE"})
	require.Equal(t, http.StatusOK, status, body)
	var creds struct {
		Credentials struct {
			AWS struct {
				AccessKeyID string `json:"access_key_id"`
			} `json:"aws_temp_credentials"`
			Expiration  int64  `json:"expiration_time"`
			StorageMode string `json:"storage_mode"`
		} `json:"credentials"`
	}
	require.NoError(t, jsonUnmarshal([]byte(body), &creds))
	assert.NotEmpty(t, creds.Credentials.AWS.AccessKeyID)
	assert.Positive(t, creds.Credentials.Expiration)
	assert.Equal(t, "CUSTOMER_HOSTED", creds.Credentials.StorageMode)

	status, finalized, body := call(http.MethodPost, "finalize", map[string]string{"name": "dev.s.m", "version": "2"})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "READY", finalized.Status)
	assert.Equal(t, catalog.ModelVersionInfoStatusReady, get("2"))
	status, _, _ = call(http.MethodPost, "generate-temporary-credentials", map[string]string{"name": "dev.s.m", "version": "2", "operation": "MODEL_VERSION_OPERATION_READ_WRITE"})
	assert.Equal(t, http.StatusBadRequest, status, "files are written only at creation time")

	// An upload that dies: created, never finalized, PENDING for good.
	status, abandoned, _ := call(http.MethodPost, "create", map[string]string{"name": "dev.s.m", "source": "dbfs:/runs/def/artifacts/agent"})
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, catalog.ModelVersionInfoStatusPendingRegistration, get(abandoned.Version), "nothing finalizes it")
	status, _, _ = call(http.MethodDelete, "delete", map[string]string{"name": "dev.s.m", "version": abandoned.Version})
	require.Equal(t, http.StatusOK, status)

	// A finalize that fails carries its message on MLflow's get route.
	p.ws.Metastore().FailNextRegistration("dev.s.m", "model files could not be validated")
	_, failing, _ := call(http.MethodPost, "create", map[string]string{"name": "dev.s.m", "source": "dbfs:/runs/ghi/artifacts/agent"})
	_, failed, _ := call(http.MethodPost, "finalize", map[string]string{"name": "dev.s.m", "version": failing.Version})
	assert.Equal(t, "FAILED_REGISTRATION", failed.Status)
	status, got, _ := call(http.MethodGet, "get?name=dev.s.m&version="+failing.Version, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "model files could not be validated", got.StatusMessage)
}

func versionNumber(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}
