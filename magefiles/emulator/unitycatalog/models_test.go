package unitycatalog

import (
	"net/http"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core/coretest"
)

// serve answers the metastore's routes as principal (one workspace's user)
// on a test server and returns an SDK client for it.
func serve(t *testing.T, m *Metastore, principal string) *databricks.WorkspaceClient {
	t.Helper()
	return coretest.Serve(t, m.Routes(principal))
}

// apiErr is the API error behind err, which must be one.
func apiErr(t *testing.T, err error) *apierr.APIError {
	t.Helper()
	var ae *apierr.APIError
	require.ErrorAs(t, err, &ae)
	return ae
}

// wantErr is an API answer a case expects: status, error code and message.
type wantErr struct {
	status        int
	code, message string
}

func (want wantErr) check(t *testing.T, err error) {
	t.Helper()
	ae := apiErr(t, err)
	assert.Equal(t, want.status, ae.StatusCode)
	assert.Equal(t, want.code, ae.ErrorCode)
	assert.Equal(t, want.message, ae.Message)
}

func TestRegisteredModelLifecycle(t *testing.T) {
	m := metastore(t, Options{})
	dev := serve(t, m, owner)
	c := coretest.Ctx(t)

	created, err := dev.RegisteredModels.Create(c, catalog.CreateRegisteredModelRequest{CatalogName: "Dev", SchemaName: "s", Name: "Agent", Comment: "first"})
	require.NoError(t, err)
	assert.Equal(t, "dev.s.agent", created.FullName, "names are stored lower-case")
	assert.Equal(t, owner, created.Owner, "the creator owns it")
	assert.Equal(t, m.ID(), created.MetastoreId)
	assert.Contains(t, created.StorageLocation, "s3://emulator-metastore/models/")

	got, err := dev.RegisteredModels.Get(c, catalog.GetRegisteredModelRequest{FullName: "DEV.S.AGENT"})
	require.NoError(t, err)
	assert.Equal(t, "first", got.Comment)

	updated, err := dev.RegisteredModels.Update(c, catalog.UpdateRegisteredModelRequest{FullName: "dev.s.agent", Comment: "second"})
	require.NoError(t, err)
	assert.Equal(t, "second", updated.Comment)
	cleared, err := dev.RegisteredModels.Update(c, catalog.UpdateRegisteredModelRequest{FullName: "dev.s.agent", ForceSendFields: []string{"Comment"}})
	require.NoError(t, err)
	assert.Empty(t, cleared.Comment, "an empty comment that is sent clears it")
	_, err = dev.RegisteredModels.Update(c, catalog.UpdateRegisteredModelRequest{FullName: "dev.s.agent", NewName: "renamed"})
	wantErr{http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Renaming a registered model is not supported by the emulator."}.check(t, err)

	require.NoError(t, dev.RegisteredModels.Delete(c, catalog.DeleteRegisteredModelRequest{FullName: "dev.s.agent"}))
	_, err = dev.RegisteredModels.Get(c, catalog.GetRegisteredModelRequest{FullName: "dev.s.agent"})
	wantErr{http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Routine or Model 'dev.s.agent' does not exist."}.check(t, err)
}

// A principal lists the models it may read: its own and those of catalogs
// it was granted, by full name, in pages.
func TestListModelsByPrincipal(t *testing.T) {
	m := metastore(t, Options{})
	_, aerr := m.CreateModel(owner, catalog.CreateRegisteredModelRequest{CatalogName: "dev", SchemaName: "s", Name: "a"})
	require.Nil(t, aerr)
	tests := []struct {
		name      string
		principal string
		req       catalog.ListRegisteredModelsRequest
		want      []string
	}{
		{"the owner of dev", owner, catalog.ListRegisteredModelsRequest{}, []string{"dev.s.a", "dev.s.m"}},
		{"staging, granted read on dev", other, catalog.ListRegisteredModelsRequest{}, []string{"dev.s.a", "dev.s.m", "staging.s.m"}},
		{"one catalog", other, catalog.ListRegisteredModelsRequest{CatalogName: "staging"}, []string{"staging.s.m"}},
		{"one schema, a page at a time", other, catalog.ListRegisteredModelsRequest{CatalogName: "dev", SchemaName: "s", MaxResults: 1}, []string{"dev.s.a", "dev.s.m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			models, err := serve(t, m, tt.principal).RegisteredModels.ListAll(coretest.Ctx(t), tt.req)
			require.NoError(t, err)
			var names []string
			for _, rm := range models {
				names = append(names, rm.FullName)
			}
			assert.Equal(t, tt.want, names)
		})
	}

	page, aerr := m.ListModels(owner, catalog.ListRegisteredModelsRequest{MaxResults: 1})
	require.Nil(t, aerr)
	assert.Equal(t, "o1", page.NextPageToken, "tokens are offsets")
}

func TestRegisteredModelErrors(t *testing.T) {
	m := metastore(t, Options{})
	dev, staging := serve(t, m, owner), serve(t, m, other)
	c := coretest.Ctx(t)
	create := func(w *databricks.WorkspaceClient, cat, schema, name string) func() error {
		return func() error {
			_, err := w.RegisteredModels.Create(c, catalog.CreateRegisteredModelRequest{CatalogName: cat, SchemaName: schema, Name: name})
			return err
		}
	}
	list := func(req catalog.ListRegisteredModelsRequest) func() error {
		return func() error {
			_, err := dev.RegisteredModels.ListAll(c, req)
			return err
		}
	}
	tests := []struct {
		name string
		call func() error
		want wantErr
	}{
		{"create without a schema", create(dev, "dev", "", "x"), wantErr{http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "catalog_name, schema_name and name are required."}},
		{"create with a space in the name", create(dev, "dev", "s", "my model"), wantErr{http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
			"Invalid name 'my model': names cannot contain spaces, periods, forward slashes, or control characters."}},
		{"create in a missing catalog", create(dev, "prod", "s", "x"), wantErr{http.StatusNotFound, "CATALOG_DOES_NOT_EXIST", "Catalog 'prod' does not exist."}},
		{"create in a missing schema", create(dev, "dev", "nope", "x"), wantErr{http.StatusNotFound, "SCHEMA_DOES_NOT_EXIST", "Schema 'dev.nope' does not exist."}},
		{"create without CREATE MODEL", create(staging, "dev", "s", "x"), wantErr{http.StatusForbidden, "PERMISSION_DENIED", "User does not have CREATE MODEL on Schema 'dev.s'."}},
		{"create twice", create(dev, "dev", "s", "m"), wantErr{http.StatusConflict, "RESOURCE_ALREADY_EXISTS", "Routine or Model 'dev.s.m' already exists."}},
		{"get without USE CATALOG", func() error {
			_, err := dev.RegisteredModels.Get(c, catalog.GetRegisteredModelRequest{FullName: "staging.s.m"})
			return err
		}, wantErr{http.StatusForbidden, "PERMISSION_DENIED", "User does not have USE CATALOG on Catalog 'staging'."}},
		{"get a two-level name", func() error {
			_, err := dev.RegisteredModels.Get(c, catalog.GetRegisteredModelRequest{FullName: "dev.m"})
			return err
		}, wantErr{http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Bad model name: please specify all three levels of the model in the form `catalog_name.schema_name.model_name`. Got 'dev.m'."}},
		{"update as a reader", func() error {
			_, err := staging.RegisteredModels.Update(c, catalog.UpdateRegisteredModelRequest{FullName: "dev.s.m", Comment: "x"})
			return err
		}, wantErr{http.StatusForbidden, "PERMISSION_DENIED", "User is not an owner of Routine or Model 'dev.s.m'."}},
		{"delete as a reader", func() error {
			return staging.RegisteredModels.Delete(c, catalog.DeleteRegisteredModelRequest{FullName: "dev.s.m"})
		}, wantErr{http.StatusForbidden, "PERMISSION_DENIED", "User is not an owner of Routine or Model 'dev.s.m'."}},
		{"list a schema without its catalog", list(catalog.ListRegisteredModelsRequest{SchemaName: "s"}), wantErr{http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "schema_name requires catalog_name."}},
		{"list a missing catalog", list(catalog.ListRegisteredModelsRequest{CatalogName: "prod"}), wantErr{http.StatusNotFound, "CATALOG_DOES_NOT_EXIST", "Catalog 'prod' does not exist."}},
		{"list too many", list(catalog.ListRegisteredModelsRequest{MaxResults: 1001}), wantErr{http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "max_results must be between 0 and 1000, got 1001."}},
		{"list with a foreign token", list(catalog.ListRegisteredModelsRequest{PageToken: "next"}), wantErr{http.StatusBadRequest, "INVALID_PARAMETER_VALUE", `Invalid page_token "next".`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.want.check(t, tt.call()) })
	}
	_, aerr := m.GetModel(owner, "dev.s.m", false)
	assert.Nil(t, aerr, "no refused request changed the model")
}

func TestModelVersionLifecycle(t *testing.T) {
	m := metastore(t, Options{})
	dev := serve(t, m, owner)
	c := coretest.Ctx(t)
	for range 3 {
		_, err := m.RegisterVersion(owner, "dev.s.m", NewVersion{Source: "dbfs:/a", RunID: "r"})
		require.NoError(t, err)
	}
	numbers := func() []int {
		t.Helper()
		versions, err := dev.ModelVersions.ListAll(c, catalog.ListModelVersionsRequest{FullName: "dev.s.m", MaxResults: 2})
		require.NoError(t, err)
		var out []int
		for _, v := range versions {
			out = append(out, v.Version)
		}
		return out
	}
	assert.Equal(t, []int{3, 2, 1}, numbers(), "newest first, across pages")

	v2, err := dev.ModelVersions.Get(c, catalog.GetModelVersionRequest{FullName: "dev.s.m", Version: 2})
	require.NoError(t, err)
	assert.Equal(t, catalog.ModelVersionInfoStatusReady, v2.Status)
	assert.Equal(t, "r", v2.RunId)
	assert.Equal(t, owner, v2.CreatedBy)

	updated, err := dev.ModelVersions.Update(c, catalog.UpdateModelVersionRequest{FullName: "dev.s.m", Version: 2, Comment: "canary"})
	require.NoError(t, err)
	assert.Equal(t, "canary", updated.Comment)

	require.NoError(t, dev.ModelVersions.Delete(c, catalog.DeleteModelVersionRequest{FullName: "dev.s.m", Version: 2}))
	assert.Equal(t, []int{3, 1}, numbers())
	missing := wantErr{http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Model version 2 of Routine or Model 'dev.s.m' does not exist."}
	_, err = dev.ModelVersions.Get(c, catalog.GetModelVersionRequest{FullName: "dev.s.m", Version: 2})
	missing.check(t, err)
	missing.check(t, dev.ModelVersions.Delete(c, catalog.DeleteModelVersionRequest{FullName: "dev.s.m", Version: 2}))
	_, err = dev.ModelVersions.Get(c, catalog.GetModelVersionRequest{FullName: "dev.s.m", Version: 0})
	wantErr{http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid model version '0': versions are positive integers."}.check(t, err)

	next, err := m.RegisterVersion(owner, "dev.s.m", NewVersion{Source: "dbfs:/b"})
	require.NoError(t, err)
	assert.Equal(t, 4, next.Version, "a deleted version's number is not given again")
}

// Aliases point at one version each, are case-insensitive and go with the
// version they point at.
func TestAliases(t *testing.T) {
	m := metastore(t, Options{})
	dev := serve(t, m, owner)
	c := coretest.Ctx(t)
	for range 2 {
		_, err := m.RegisterVersion(owner, "dev.s.m", NewVersion{Source: "dbfs:/a"})
		require.NoError(t, err)
	}
	set := func(alias string, version int) error {
		_, err := dev.RegisteredModels.SetAlias(c, catalog.SetRegisteredModelAliasRequest{FullName: "dev.s.m", Alias: alias, VersionNum: version})
		return err
	}
	byAlias := func(alias string) (int, error) {
		v, err := dev.ModelVersions.GetByAlias(c, catalog.GetByAliasRequest{FullName: "dev.s.m", Alias: alias})
		if err != nil {
			return 0, err
		}
		return v.Version, nil
	}
	steps := []struct {
		name  string
		do    func() error
		want  map[string]int // the model's aliases afterwards
		error *wantErr
	}{
		{"set", func() error { return set("Champion", 1) }, map[string]int{"champion": 1}, nil},
		{"move", func() error { return set("champion", 2) }, map[string]int{"champion": 2}, nil},
		{"set a second", func() error { return set("challenger", 1) }, map[string]int{"champion": 2, "challenger": 1}, nil},
		{"set on a missing version", func() error { return set("next", 9) }, map[string]int{"champion": 2, "challenger": 1},
			&wantErr{http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Model version 9 of Routine or Model 'dev.s.m' does not exist."}},
		{"set a name MLflow refuses", func() error { return set("my.alias", 1) }, map[string]int{"champion": 2, "challenger": 1},
			&wantErr{http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid alias name 'my.alias'. Names may only contain alphanumerics, underscores (_), and dashes (-)."}},
		{"delete the version an alias points at", func() error {
			return dev.ModelVersions.Delete(c, catalog.DeleteModelVersionRequest{FullName: "dev.s.m", Version: 2})
		}, map[string]int{"challenger": 1}, nil},
		{"delete a missing alias", func() error {
			return dev.RegisteredModels.DeleteAlias(c, catalog.DeleteAliasRequest{FullName: "dev.s.m", Alias: "Champion"})
		}, map[string]int{"challenger": 1}, &wantErr{http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Alias 'champion' of Routine or Model 'dev.s.m' does not exist."}},
		{"delete", func() error {
			return dev.RegisteredModels.DeleteAlias(c, catalog.DeleteAliasRequest{FullName: "dev.s.m", Alias: "CHALLENGER"})
		}, map[string]int{}, nil},
	}
	for _, st := range steps {
		err := st.do()
		if st.error != nil {
			st.error.check(t, err)
		} else {
			require.NoError(t, err, st.name)
		}
		assert.Equal(t, st.want, m.Aliases("dev.s.m"), st.name)
	}

	require.NoError(t, set("champion", 1))
	n, err := byAlias("CHAMPION")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = byAlias("challenger")
	wantErr{http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Alias 'challenger' of Routine or Model 'dev.s.m' does not exist."}.check(t, err)

	withAliases, err := dev.RegisteredModels.Get(c, catalog.GetRegisteredModelRequest{FullName: "dev.s.m", IncludeAliases: true})
	require.NoError(t, err)
	require.Len(t, withAliases.Aliases, 1)
	a := withAliases.Aliases[0]
	assert.Equal(t, []any{"champion", 1, "dev", "s", "m"}, []any{a.AliasName, a.VersionNum, a.CatalogName, a.SchemaName, a.ModelName})
	without, err := dev.RegisteredModels.Get(c, catalog.GetRegisteredModelRequest{FullName: "dev.s.m"})
	require.NoError(t, err)
	assert.Empty(t, without.Aliases, "aliases only with include_aliases")
}

// Grants are changed through the API by the owner of the securable or a
// parent; a grant on a catalog reaches what the catalog holds.
func TestGrantRoutes(t *testing.T) {
	m := metastore(t, Options{})
	dev, staging := serve(t, m, owner), serve(t, m, other)
	c := coretest.Ctx(t)

	_, err := staging.Grants.Update(c, catalog.UpdatePermissions{SecurableType: "schema", FullName: "dev.s",
		Changes: []catalog.PermissionsChange{{Principal: other, Add: []catalog.Privilege{catalog.PrivilegeCreateModel}}}})
	wantErr{http.StatusForbidden, "PERMISSION_DENIED", "User does not have MANAGE on Schema 'dev.s'."}.check(t, err)

	updated, err := dev.Grants.Update(c, catalog.UpdatePermissions{SecurableType: "schema", FullName: "dev.s",
		Changes: []catalog.PermissionsChange{{Principal: other, Add: []catalog.Privilege{catalog.PrivilegeCreateModel}}}})
	require.NoError(t, err)
	assert.Equal(t, map[string][]catalog.Privilege{other: {catalog.PrivilegeCreateModel}}, byPrincipal(updated.PrivilegeAssignments))

	direct, err := dev.Grants.Get(c, catalog.GetGrantRequest{SecurableType: "catalog", FullName: "dev", Principal: other})
	require.NoError(t, err)
	assert.Equal(t, map[string][]catalog.Privilege{other: {
		catalog.PrivilegeExecute, catalog.PrivilegeUseCatalog, catalog.PrivilegeUseSchema,
	}}, byPrincipal(direct.PrivilegeAssignments))

	effective, err := dev.Grants.GetEffective(c, catalog.GetEffectiveRequest{SecurableType: "function", FullName: "dev.s.m", Principal: other})
	require.NoError(t, err)
	require.Len(t, effective.PrivilegeAssignments, 1)
	inherited := map[catalog.Privilege]string{}
	for _, p := range effective.PrivilegeAssignments[0].Privileges {
		inherited[p.Privilege] = string(p.InheritedFromType) + " " + p.InheritedFromName
	}
	assert.Equal(t, map[catalog.Privilege]string{
		catalog.PrivilegeCreateModel: "SCHEMA dev.s",
		catalog.PrivilegeExecute:     "CATALOG dev", catalog.PrivilegeUseCatalog: "CATALOG dev", catalog.PrivilegeUseSchema: "CATALOG dev",
	}, inherited)

	created, err := staging.RegisteredModels.Create(c, catalog.CreateRegisteredModelRequest{CatalogName: "dev", SchemaName: "s", Name: "theirs"})
	require.NoError(t, err, "CREATE MODEL on the schema lets staging create a model there")
	assert.Equal(t, other, created.Owner)

	_, err = dev.Grants.Get(c, catalog.GetGrantRequest{SecurableType: "volume", FullName: "dev.s.v"})
	wantErr{http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
		"Unsupported securable type 'volume'; the emulator grants on catalog, schema and function (registered model)."}.check(t, err)
}

// byPrincipal is a grants answer as principal -> privileges.
func byPrincipal(assignments []catalog.PrivilegeAssignment) map[string][]catalog.Privilege {
	out := map[string][]catalog.Privilege{}
	for _, a := range assignments {
		out[a.Principal] = a.Privileges
	}
	return out
}

// VersionStatus and RegisterModel are how a workspace's serving and
// training reach the metastore: as the workspace's principal.
func TestWorkspaceSideOfModelVersions(t *testing.T) {
	m := metastore(t, Options{})
	_, err := m.RegisterVersion(owner, "dev.s.m", NewVersion{Source: "dbfs:/a"})
	require.NoError(t, err)
	m.FailNextRegistration("dev.s.m", "bad files")
	_, err = m.RegisterVersion(owner, "dev.s.m", NewVersion{Source: "dbfs:/b"})
	require.NoError(t, err)

	statuses := []struct {
		name, principal, model, version string
		status                          string
		error                           *wantErr
	}{
		{"ready", owner, "dev.s.m", "1", "READY", nil},
		{"failed", owner, "dev.s.m", "2", "FAILED_REGISTRATION", nil},
		{"read through a grant", other, "DEV.S.M", "1", "READY", nil},
		{"not a number", owner, "dev.s.m", "one", "", &wantErr{http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
			"Invalid entity_version 'one' for Unity Catalog model dev.s.m: versions are positive integers."}},
		{"missing", owner, "dev.s.m", "9", "", &wantErr{http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Model version 9 of Routine or Model 'dev.s.m' does not exist."}},
		{"no grant", owner, "staging.s.m", "1", "", &wantErr{http.StatusForbidden, "PERMISSION_DENIED", "User does not have USE CATALOG on Catalog 'staging'."}},
	}
	for _, tt := range statuses {
		t.Run("status "+tt.name, func(t *testing.T) {
			status, aerr := m.VersionStatus(tt.principal, tt.model, tt.version)
			if tt.error == nil {
				require.Nil(t, aerr)
				assert.Equal(t, tt.status, status)
				return
			}
			require.NotNil(t, aerr)
			assert.Equal(t, *tt.error, wantErr{aerr.Status, aerr.Code, aerr.Message})
		})
	}

	registrations := []struct {
		name, model   string
		script        func()
		full, version string
		err           string
	}{
		{"registered", "DEV.S.M", func() {}, "dev.s.m", "3", ""},
		{"missing model", "dev.s.nope", func() {}, "", "", "registering the model as dev.s.nope: RESOURCE_DOES_NOT_EXIST: Routine or Model 'dev.s.nope' does not exist."},
		{"interrupted", "dev.s.m", func() { m.InterruptNextRegistration("dev.s.m", StepUpload) },
			"", "", "registering the model as dev.s.m: the task died after the upload step of registering dev.s.m v4; the version stays PENDING_REGISTRATION"},
	}
	for _, tt := range registrations {
		t.Run("register "+tt.name, func(t *testing.T) {
			tt.script()
			full, version, err := m.RegisterModel(owner, loggedModel(tt.model))
			if tt.err != "" {
				assert.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []string{tt.full, tt.version}, []string{full, version})
		})
	}
}

// loggedModel is a model a training run logged, to register under name.
func loggedModel(name string) core.LoggedModel {
	return core.LoggedModel{Model: name, Source: "dbfs:/databricks/mlflow-tracking/1/r/artifacts/agent", RunID: "r", WorkspaceID: 7}
}
