package contract

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/databricks/databricks-sdk-go/service/sql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// releaseStatement is the statement the release tooling sends to read an
// endpoint's captured traffic.
const releaseStatement = "SELECT databricks_request_id, client_request_id, timestamp_ms, status_code, request, response, request_metadata " +
	"FROM `main`.`ml`.`agent_payload` WHERE status_code = 200 ORDER BY timestamp_ms DESC LIMIT 400"

// startCapture runs a workspace whose principal owns catalog main with
// schema ml, and serves one version of model agent on endpoint ep with
// capture into main.ml.agent_payload.
func startCapture(t *testing.T) (emulated, string) {
	t.Helper()
	ws := start(t, emulator.Options{})
	uc := ws.srv.Metastore()
	require.NoError(t, uc.CreateCatalog(ws.srv.UserName(), "main"))
	require.NoError(t, uc.CreateSchema(ws.srv.UserName(), "main", "ml"))
	v := ws.seed(t, "agent", 1)[0]
	wait, err := ws.w.ServingEndpoints.Create(testCtx(t), serving.CreateServingEndpoint{Name: "ep", Config: &serving.EndpointCoreConfigInput{
		ServedEntities:    []serving.ServedEntityInput{entity("agent", v, true)},
		AutoCaptureConfig: &serving.AutoCaptureConfigInput{CatalogName: "main", SchemaName: "ml", TableNamePrefix: "agent", Enabled: true},
	}})
	require.NoError(t, err)
	_, err = wait.Get()
	require.NoError(t, err)
	return ws, v
}

// An endpoint's config with auto_capture_config logs every request and
// response to <catalog>.<schema>.<prefix>_payload, whose columns are
// databricks_request_id STRING, client_request_id STRING, date DATE,
// timestamp_ms LONG, status_code INT, sampling_fraction DOUBLE,
// execution_time_ms LONG, request STRING (the raw request JSON body),
// response STRING (the raw response JSON body) and request_metadata
// MAP<STRING, STRING> (endpoint name, model name and model version).
// Sources: "Inference tables for monitoring and debugging models"
// (docs.databricks.com/en/machine-learning/model-serving/inference-tables.html,
// "Unity Catalog inference table schema"; client_request_id is "specified
// in the model serving request body"); databricks-sdk-go
// service/serving/model.go, QueryEndpointInput.ClientRequestId ("recorded
// in the inference table"); Databricks' inference table notebooks read
// request_metadata.model_name and request_metadata.model_version and
// filter status_code == 200. The service writes rows within about an hour
// (same page); the emulator writes them before it answers, and the
// statement is read back through the Statement Execution API, whose
// JSON_ARRAY format renders every value as a string or null
// (databricks-sdk-go service/sql/model.go, ExecuteStatementRequest.Format).
func TestInferenceTableCapturesInvocations(t *testing.T) {
	ws, v := startCapture(t)
	c := testCtx(t)
	records := []any{map[string]any{"text": "hello"}}
	_, err := ws.w.ServingEndpoints.Query(c, serving.QueryEndpointInput{Name: "ep", ClientRequestId: "req-1", DataframeRecords: records})
	require.NoError(t, err)
	_, err = ws.w.ServingEndpoints.Query(c, serving.QueryEndpointInput{Name: "ep", DataframeRecords: records})
	require.NoError(t, err)

	res, err := ws.w.StatementExecution.ExecuteAndWait(c, sql.ExecuteStatementRequest{WarehouseId: ws.srv.WarehouseID(), Statement: releaseStatement})
	require.NoError(t, err)
	assert.Equal(t, sql.StatementStateSucceeded, res.Status.State)
	require.NotNil(t, res.Manifest)
	assert.Equal(t, sql.FormatJsonArray, res.Manifest.Format)
	assert.EqualValues(t, 2, res.Manifest.TotalRowCount)
	type col struct{ name, typeName, typeText string }
	var cols []col
	for i, ci := range res.Manifest.Schema.Columns {
		assert.Equal(t, i, ci.Position)
		cols = append(cols, col{ci.Name, string(ci.TypeName), ci.TypeText})
	}
	assert.Equal(t, []col{
		{"databricks_request_id", "STRING", "STRING"}, {"client_request_id", "STRING", "STRING"},
		{"timestamp_ms", "LONG", "BIGINT"}, {"status_code", "INT", "INT"},
		{"request", "STRING", "STRING"}, {"response", "STRING", "STRING"},
		{"request_metadata", "MAP", "MAP<STRING, STRING>"},
	}, cols)

	require.Len(t, res.Result.DataArray, 2)
	rows := res.Result.DataArray
	assert.GreaterOrEqual(t, rows[0][2], rows[1][2], "newest first")
	var first []string
	for _, r := range rows {
		if r[1] == "req-1" {
			first = r
		}
	}
	require.NotNil(t, first, "the row carries the client_request_id")
	assert.NotEmpty(t, first[0])
	assert.Equal(t, "200", first[3])
	var req map[string]any
	require.NoError(t, json.Unmarshal([]byte(first[4]), &req))
	assert.Equal(t, "req-1", req["client_request_id"], "request is the body as sent")
	var resp map[string]any
	require.NoError(t, json.Unmarshal([]byte(first[5]), &resp))
	assert.Contains(t, resp, "predictions", "response is the body answered")
	var meta map[string]string
	require.NoError(t, json.Unmarshal([]byte(first[6]), &meta), "a MAP is rendered as JSON text")
	assert.Equal(t, map[string]string{"endpoint_name": "ep", "model_name": "agent", "model_version": v}, meta)

	// The raw wire format sends null for a request without client_request_id.
	status, body, _ := ws.raw(t, http.MethodPost, "/api/2.0/sql/statements", map[string]any{
		"warehouse_id": ws.srv.WarehouseID(),
		"statement":    "SELECT client_request_id, date, sampling_fraction, execution_time_ms FROM main.ml.agent_payload ORDER BY client_request_id",
	})
	require.Equal(t, http.StatusOK, status, "%s", body)
	var wire struct {
		Result struct {
			DataArray [][]*string `json:"data_array"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(body, &wire))
	require.Len(t, wire.Result.DataArray, 2)
	assert.Nil(t, wire.Result.DataArray[0][0], "NULL sorts first and is null")
	assert.Equal(t, "req-1", *wire.Result.DataArray[1][0])
	assert.Regexp(t, `^\d{4}-\d{2}-\d{2}$`, *wire.Result.DataArray[1][1])
	assert.Equal(t, "1.0", *wire.Result.DataArray[1][2])
}

// GET reports config.auto_capture_config with its state.payload_table: the
// table's name without catalog and schema ("<prefix>_payload", which
// Databricks' inference table notebooks join to the config's catalog_name
// and schema_name). The prefix defaults to the endpoint's name and enabled
// to true ("Enable inference tables on model serving endpoints using the
// API": "If this isn't specified, the endpoint name is used"; "This true by
// default"). The docs name payload_table status FAILED for a broken table;
// no source shows a healthy one, and the emulator's is ACTIVE.
func TestInferenceTablePayloadTableState(t *testing.T) {
	tests := []struct {
		name    string
		capture serving.AutoCaptureConfigInput
		table   string
	}{
		{"named prefix", serving.AutoCaptureConfigInput{CatalogName: "main", SchemaName: "ml", TableNamePrefix: "agent", Enabled: true}, "agent_payload"},
		{"defaults", serving.AutoCaptureConfigInput{CatalogName: "main", SchemaName: "ml"}, "ep_payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := start(t, emulator.Options{})
			uc := ws.srv.Metastore()
			require.NoError(t, uc.CreateCatalog(ws.srv.UserName(), "main"))
			require.NoError(t, uc.CreateSchema(ws.srv.UserName(), "main", "ml"))
			v := ws.seed(t, "agent", 1)[0]
			capture := tt.capture
			wait, err := ws.w.ServingEndpoints.Create(testCtx(t), serving.CreateServingEndpoint{Name: "ep", Config: &serving.EndpointCoreConfigInput{
				ServedEntities: []serving.ServedEntityInput{entity("agent", v, true)}, AutoCaptureConfig: &capture}})
			require.NoError(t, err)
			ep, err := wait.Get()
			require.NoError(t, err)
			got := ep.Config.AutoCaptureConfig
			require.NotNil(t, got)
			assert.True(t, got.Enabled)
			assert.Equal(t, "main", got.CatalogName)
			assert.Equal(t, "ml", got.SchemaName)
			require.NotNil(t, got.State)
			require.NotNil(t, got.State.PayloadTable)
			assert.Equal(t, tt.table, got.State.PayloadTable.Name)
			assert.Equal(t, emulator.PayloadTableStatus, got.State.PayloadTable.Status)
			_, ok := ws.srv.TableRows("main.ml." + tt.table)
			assert.True(t, ok, "the table exists before any request")
		})
	}
}

// Enabling capture needs the catalog and schema, and USE CATALOG, USE
// SCHEMA and CREATE TABLE on them ("Enable inference tables on model
// serving endpoints using the API", Requirements). No source quotes the
// service's refusal: the emulator answers a missing catalog or schema 400
// INVALID_PARAMETER_VALUE with Unity Catalog's message, and a missing
// privilege 403 PERMISSION_DENIED as Unity Catalog words it.
func TestInferenceTableNeedsCatalogAndSchema(t *testing.T) {
	tests := []struct {
		name    string
		seed    func(t *testing.T, ws emulated)
		status  int
		message string
	}{
		{"no catalog", func(*testing.T, emulated) {}, http.StatusBadRequest, "auto_capture_config: Catalog 'main' does not exist."},
		{"no schema", func(t *testing.T, ws emulated) {
			require.NoError(t, ws.srv.Metastore().CreateCatalog(ws.srv.UserName(), "main"))
		}, http.StatusBadRequest, "auto_capture_config: Schema 'main.ml' does not exist."},
		{"no CREATE TABLE", func(t *testing.T, ws emulated) {
			uc := ws.srv.Metastore()
			require.NoError(t, uc.CreateCatalog("someone@else", "main"))
			require.NoError(t, uc.CreateSchema("someone@else", "main", "ml"))
			require.NoError(t, uc.Grant(catalog.SecurableTypeCatalog, "main", ws.srv.UserName(), catalog.PrivilegeUseCatalog, catalog.PrivilegeUseSchema))
		}, http.StatusForbidden, "User does not have CREATE TABLE on Schema 'main.ml'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := start(t, emulator.Options{})
			tt.seed(t, ws)
			v := ws.seed(t, "agent", 1)[0]
			_, err := ws.w.ServingEndpoints.Create(testCtx(t), serving.CreateServingEndpoint{Name: "ep", Config: &serving.EndpointCoreConfigInput{
				ServedEntities:    []serving.ServedEntityInput{entity("agent", v, true)},
				AutoCaptureConfig: &serving.AutoCaptureConfigInput{CatalogName: "main", SchemaName: "ml", Enabled: true},
			}})
			ae := apiError(t, err)
			assert.Equal(t, tt.status, ae.StatusCode)
			assert.Equal(t, tt.message, ae.Message)
		})
	}
}

// Capture can be enabled on an existing endpoint by update-config, and its
// catalog, schema and prefix cannot change while it is enabled
// (databricks-sdk-go service/serving/model.go, AutoCaptureConfigInput: "On
// update, you cannot change the catalog name if the inference table is
// already enabled"). The refusal's status and wording are the emulator's.
func TestInferenceTableEnabledByUpdate(t *testing.T) {
	ws := start(t, emulator.Options{})
	c := testCtx(t)
	uc := ws.srv.Metastore()
	require.NoError(t, uc.CreateCatalog(ws.srv.UserName(), "main"))
	require.NoError(t, uc.CreateSchema(ws.srv.UserName(), "main", "ml"))
	require.NoError(t, uc.CreateSchema(ws.srv.UserName(), "main", "other"))
	ws.serveOne(t, "ep", "agent")
	ep, err := ws.w.ServingEndpoints.GetByName(c, "ep")
	require.NoError(t, err)
	served := entity("agent", ep.Config.ServedEntities[0].EntityVersion, true)

	wait, err := ws.w.ServingEndpoints.UpdateConfig(c, serving.EndpointCoreConfigInput{Name: "ep", ServedEntities: []serving.ServedEntityInput{served},
		AutoCaptureConfig: &serving.AutoCaptureConfigInput{CatalogName: "main", SchemaName: "ml", Enabled: true}})
	require.NoError(t, err)
	got, err := wait.Get()
	require.NoError(t, err)
	assert.Equal(t, "ep_payload", got.Config.AutoCaptureConfig.State.PayloadTable.Name)
	_, err = ws.query(t, "ep", map[string]any{"text": "hi"})
	require.NoError(t, err)
	rows, ok := ws.srv.TableRows("main.ml.ep_payload")
	require.True(t, ok)
	assert.Len(t, rows, 1)

	_, err = ws.w.ServingEndpoints.UpdateConfig(c, serving.EndpointCoreConfigInput{Name: "ep", ServedEntities: []serving.ServedEntityInput{served},
		AutoCaptureConfig: &serving.AutoCaptureConfigInput{CatalogName: "main", SchemaName: "other", Enabled: true}})
	assert.Equal(t, http.StatusBadRequest, apiError(t, err).StatusCode)
}
