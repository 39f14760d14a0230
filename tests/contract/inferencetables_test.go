//lint:file-ignore SA1019 the legacy auto_capture_config is deprecated; the emulator refuses it as the service does, which needs its type

package contract

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/databricks/databricks-sdk-go/service/sql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// releaseEndpoint is an endpoint named as the release tooling names them.
const releaseEndpoint = "langgraph-human-interrupt-prod"

// releaseEntitiesStatement and releaseStatement are, verbatim, the
// statements the release tooling sends: which model version each
// served_entity_id of the endpoint is, then the endpoint's logged traffic.
const (
	releaseEntitiesStatement = "SELECT served_entity_id, entity_name, entity_version FROM system.serving.served_entities WHERE endpoint_name = 'langgraph-human-interrupt-prod'"
	releaseStatement         = "SELECT databricks_request_id, client_request_id, request_time, status_code, request, response, served_entity_id FROM `cat`.`schema`.`prefix_payload` WHERE status_code = 200 ORDER BY request_time DESC LIMIT 400"
)

// releaseModel is the Unity Catalog model the release endpoint serves.
const releaseModel = "cat.schema.agent"

// gatewayWorkspace runs a workspace whose principal owns catalog cat with
// schema schema and model cat.schema.agent.
func gatewayWorkspace(t *testing.T) emulated {
	t.Helper()
	ws := startUC(t, emulator.Options{})
	uc := ws.srv.Metastore()
	require.NoError(t, uc.CreateCatalog(ws.srv.UserName(), "cat"))
	require.NoError(t, uc.CreateSchema(ws.srv.UserName(), "cat", "schema"))
	_, err := ws.w.RegisteredModels.Create(testCtx(t), catalog.CreateRegisteredModelRequest{CatalogName: "cat", SchemaName: "schema", Name: "agent"})
	require.NoError(t, err)
	return ws
}

// register registers a new version of releaseModel.
func (ws emulated) register(t *testing.T) string {
	t.Helper()
	v, err := ws.srv.Metastore().RegisterVersion(ws.srv.UserName(), releaseModel, ucVersion())
	require.NoError(t, err)
	return strconv.Itoa(v.Version)
}

// releaseEntity serves version v of releaseModel as agent-<v>.
func releaseEntity(v string) serving.ServedEntityInput {
	e := entity(releaseModel, v, true)
	e.Name = "agent-" + v
	return e
}

// gatewayTable is the release endpoint's inference table:
// cat.schema.prefix_payload.
func gatewayTable() *serving.AiGatewayInferenceTableConfig {
	return &serving.AiGatewayInferenceTableConfig{CatalogName: "cat", SchemaName: "schema", TableNamePrefix: "prefix", Enabled: true}
}

// startRelease serves a version of cat.schema.agent on the release
// endpoint, logging to cat.schema.prefix_payload through AI Gateway.
func startRelease(t *testing.T) (emulated, string) {
	t.Helper()
	ws := gatewayWorkspace(t)
	v := ws.register(t)
	wait, err := ws.w.ServingEndpoints.Create(testCtx(t), serving.CreateServingEndpoint{
		Name:      releaseEndpoint,
		Config:    &serving.EndpointCoreConfigInput{ServedEntities: []serving.ServedEntityInput{releaseEntity(v)}},
		AiGateway: &serving.AiGatewayConfig{InferenceTableConfig: gatewayTable()},
	})
	require.NoError(t, err)
	_, err = wait.Get()
	require.NoError(t, err)
	return ws, v
}

// execute runs a statement with the SDK's ExecuteAndWait and returns its
// rows.
func (ws emulated) execute(t *testing.T, statement string) (*sql.StatementResponse, [][]string) {
	t.Helper()
	res, err := ws.w.StatementExecution.ExecuteAndWait(testCtx(t), sql.ExecuteStatementRequest{WarehouseId: ws.srv.WarehouseID(), Statement: statement})
	require.NoError(t, err)
	require.Equal(t, sql.StatementStateSucceeded, res.Status.State)
	if res.Result == nil {
		return res, nil
	}
	return res, res.Result.DataArray
}

// An endpoint's ai_gateway.inference_table_config logs every request and
// response to <catalog>.<schema>.<prefix>_payload, and each row's
// served_entity_id is resolved to a model version through
// system.serving.served_entities. Sources: "Monitor served models using AI
// Gateway-enabled inference tables"
// (docs.databricks.com/aws/en/ai-gateway/inference-tables: requests and
// responses are logged to a Unity Catalog Delta table; the legacy
// experience is deprecated); "Served entities system table reference"
// (docs.databricks.com/aws/en/admin/system-tables/served-entities-system-table);
// databricks-sdk-go service/serving/model.go (AiGatewayInferenceTableConfig;
// QueryEndpointInput.ClientRequestId "will be recorded in the inference
// table"). No official column table of the payload table was found: the
// columns and types are those of public dumps of real tables' DDL, whose
// column comments the service writes ("The unique ID of the served
// entity."; request_time "The timestamp at which the request is
// received."), and public notebooks join payload rows to
// system.serving.served_entities on served_entity_id. The service writes
// rows within about an hour; the emulator before it answers. JSON_ARRAY
// renders every value as a string or null (databricks-sdk-go
// service/sql/model.go, ExecuteStatementRequest.Format); that a TIMESTAMP
// renders as ISO 8601 (2026-12-07T14:03:00.123Z) is not quoted publicly.
func TestAIGatewayInferenceTableReleaseStatements(t *testing.T) {
	ws, v := startRelease(t)
	c := testCtx(t)
	records := []any{map[string]any{"text": "hello"}}
	for _, id := range []string{"req-1", "req-2", ""} {
		_, err := ws.w.ServingEndpoints.Query(c, serving.QueryEndpointInput{Name: releaseEndpoint, ClientRequestId: id, DataframeRecords: records})
		require.NoError(t, err)
	}

	_, entities := ws.execute(t, releaseEntitiesStatement)
	require.Len(t, entities, 1)
	id := entities[0][0]
	assert.Regexp(t, `^[0-9a-f]{32}$`, id)
	assert.Equal(t, []string{id, releaseModel, v}, entities[0])

	res, rows := ws.execute(t, releaseStatement)
	require.NotNil(t, res.Manifest)
	assert.Equal(t, sql.FormatJsonArray, res.Manifest.Format)
	assert.EqualValues(t, 3, res.Manifest.TotalRowCount)
	type col struct{ name, typeName, typeText string }
	var cols []col
	for i, ci := range res.Manifest.Schema.Columns {
		assert.Equal(t, i, ci.Position)
		cols = append(cols, col{ci.Name, string(ci.TypeName), ci.TypeText})
	}
	assert.Equal(t, []col{
		{"databricks_request_id", "STRING", "STRING"}, {"client_request_id", "STRING", "STRING"},
		{"request_time", "TIMESTAMP", "TIMESTAMP"}, {"status_code", "INT", "INT"},
		{"request", "STRING", "STRING"}, {"response", "STRING", "STRING"},
		{"served_entity_id", "STRING", "STRING"},
	}, cols)
	require.Len(t, rows, 3)
	for i, r := range rows {
		assert.NotEmpty(t, r[0])
		assert.Regexp(t, `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`, r[2])
		if i > 0 {
			assert.GreaterOrEqual(t, rows[i-1][2], r[2], "newest first")
		}
		assert.Equal(t, "200", r[3])
		assert.Equal(t, id, r[6], "the row names the served entity that answered")
	}
	var first []string
	for _, r := range rows {
		if r[1] == "req-1" {
			first = r
		}
	}
	require.NotNil(t, first, "the row carries the client_request_id")
	var req map[string]any
	require.NoError(t, json.Unmarshal([]byte(first[4]), &req))
	assert.Equal(t, "req-1", req["client_request_id"], "request is the body as sent")
	var resp map[string]any
	require.NoError(t, json.Unmarshal([]byte(first[5]), &resp))
	assert.Contains(t, resp, "predictions", "response is the body answered")

	// The raw wire format sends null for a request without client_request_id.
	status, body, _ := ws.raw(t, http.MethodPost, "/api/2.0/sql/statements", map[string]any{
		"warehouse_id": ws.srv.WarehouseID(),
		"statement":    "SELECT client_request_id, request_date, sampling_fraction, execution_duration_ms, logging_error_codes, requester FROM cat.schema.prefix_payload ORDER BY client_request_id",
	})
	require.Equal(t, http.StatusOK, status, "%s", body)
	var wire struct {
		Result struct {
			DataArray [][]*string `json:"data_array"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(body, &wire))
	require.Len(t, wire.Result.DataArray, 3)
	assert.Nil(t, wire.Result.DataArray[0][0], "NULL sorts first and is null")
	row := wire.Result.DataArray[1]
	assert.Equal(t, "req-1", *row[0])
	assert.Regexp(t, `^\d{4}-\d{2}-\d{2}$`, *row[1])
	assert.Equal(t, "1.0", *row[2])
	assert.Regexp(t, `^\d+$`, *row[3])
	assert.Equal(t, "[]", *row[4], "an ARRAY is rendered as JSON text")
	assert.Equal(t, ws.srv.UserName(), *row[5])
}

// A config update that deploys a new version makes a new served entity:
// the rows it answers carry a new served_entity_id, and the system table
// keeps one row per served entity ever deployed, so both ids resolve to
// their versions. Sources: "Served entities system table reference" (one
// record per served entity, with endpoint_config_version and change_time;
// the rows stay after the endpoint is deleted, with
// endpoint_delete_time). That an unchanged entity keeps its id across
// updates is not quoted publicly.
func TestAIGatewayInferenceTableAcrossConfigUpdate(t *testing.T) {
	ws, v1 := startRelease(t)
	c := testCtx(t)
	_, err := ws.w.ServingEndpoints.Query(c, serving.QueryEndpointInput{Name: releaseEndpoint, ClientRequestId: "before", DataframeRecords: []any{map[string]any{"text": "a"}}})
	require.NoError(t, err)

	v2 := ws.register(t)
	wait, err := ws.w.ServingEndpoints.UpdateConfig(c, serving.EndpointCoreConfigInput{Name: releaseEndpoint,
		ServedEntities: []serving.ServedEntityInput{releaseEntity(v2)}})
	require.NoError(t, err)
	_, err = wait.Get()
	require.NoError(t, err)
	_, err = ws.w.ServingEndpoints.Query(c, serving.QueryEndpointInput{Name: releaseEndpoint, ClientRequestId: "after", DataframeRecords: []any{map[string]any{"text": "b"}}})
	require.NoError(t, err)

	_, entities := ws.execute(t, releaseEntitiesStatement)
	require.Len(t, entities, 2)
	versionOf := map[string]string{}
	for _, e := range entities {
		assert.Equal(t, releaseModel, e[1])
		versionOf[e[0]] = e[2]
	}
	require.Len(t, versionOf, 2, "two served entities, two ids")

	_, rows := ws.execute(t, releaseStatement)
	require.Len(t, rows, 2)
	got := map[string]string{}
	for _, r := range rows {
		got[r[1]] = versionOf[r[6]]
	}
	assert.Equal(t, map[string]string{"before": v1, "after": v2}, got)

	require.NoError(t, ws.w.ServingEndpoints.DeleteByName(c, releaseEndpoint))
	_, deleted := ws.execute(t, "SELECT served_entity_id, endpoint_delete_time FROM system.serving.served_entities WHERE endpoint_name = '"+releaseEndpoint+"'")
	require.Len(t, deleted, 2)
	for _, r := range deleted {
		assert.NotEmpty(t, r[1])
	}
}

// GET reports ai_gateway as configured, and PUT
// /serving-endpoints/{name}/ai-gateway replaces it, answering the new
// configuration (databricks-sdk-go service/serving/impl.go PutAiGateway,
// model.go PutAiGatewayResponse) without a config update: config_update
// stays NOT_UPDATING and the config version is kept. The prefix defaults
// to the endpoint's name: the AI Gateway pages found state no default, the
// legacy inference tables page does ("If this isn't specified, the
// endpoint name is used"). Other ai_gateway fields are stored and echoed,
// not enforced.
func TestAIGatewayConfigRoundTrip(t *testing.T) {
	ws := gatewayWorkspace(t)
	c := testCtx(t)
	v := ws.register(t)
	wait, err := ws.w.ServingEndpoints.Create(c, serving.CreateServingEndpoint{Name: "ep",
		Config: &serving.EndpointCoreConfigInput{ServedEntities: []serving.ServedEntityInput{releaseEntity(v)}}})
	require.NoError(t, err)
	before, err := wait.Get()
	require.NoError(t, err)
	assert.Nil(t, before.AiGateway)

	limits := []serving.AiGatewayRateLimit{{Calls: 100, Key: serving.AiGatewayRateLimitKeyUser, RenewalPeriod: serving.AiGatewayRateLimitRenewalPeriodMinute}}
	put, err := ws.w.ServingEndpoints.PutAiGateway(c, serving.PutAiGatewayRequest{Name: "ep",
		InferenceTableConfig: &serving.AiGatewayInferenceTableConfig{CatalogName: "cat", SchemaName: "schema", Enabled: true},
		RateLimits:           limits, UsageTrackingConfig: &serving.AiGatewayUsageTrackingConfig{Enabled: true},
	})
	require.NoError(t, err)
	require.NotNil(t, put.InferenceTableConfig)
	assert.True(t, put.InferenceTableConfig.Enabled)
	assert.Equal(t, limits, withoutForceSend(put.RateLimits))

	got, err := ws.w.ServingEndpoints.GetByName(c, "ep")
	require.NoError(t, err)
	require.NotNil(t, got.AiGateway)
	assert.Equal(t, "cat", got.AiGateway.InferenceTableConfig.CatalogName)
	assert.Equal(t, "schema", got.AiGateway.InferenceTableConfig.SchemaName)
	assert.True(t, got.AiGateway.InferenceTableConfig.Enabled)
	assert.Equal(t, limits, withoutForceSend(got.AiGateway.RateLimits))
	assert.True(t, got.AiGateway.UsageTrackingConfig.Enabled)
	assert.Equal(t, serving.EndpointStateConfigUpdateNotUpdating, got.State.ConfigUpdate)
	assert.Equal(t, before.Config.ConfigVersion, got.Config.ConfigVersion)
	assert.Nil(t, got.PendingConfig)
	_, ok := ws.srv.TableRows("cat.schema.ep_payload")
	assert.True(t, ok, "the table exists before any request")
}

// withoutForceSend drops what the SDK's decoding records of the fields sent.
func withoutForceSend(limits []serving.AiGatewayRateLimit) []serving.AiGatewayRateLimit {
	out := append([]serving.AiGatewayRateLimit(nil), limits...)
	for i := range out {
		out[i].ForceSendFields = nil
	}
	return out
}

// Catalog and schema are "Required when enabling inference tables", and
// catalog, schema and prefix cannot change while the table is enabled:
// "On update, you have to disable inference table first"
// (databricks-sdk-go service/serving/model.go,
// AiGatewayInferenceTableConfig). Enabling needs the catalog and schema,
// and USE CATALOG, USE SCHEMA and CREATE TABLE on them ("Monitor served
// models using AI Gateway-enabled inference tables", Requirements). No
// source quotes the service's refusals: the emulator answers 400
// INVALID_PARAMETER_VALUE in its own words, a missing catalog or schema
// with Unity Catalog's message, and a missing privilege 403
// PERMISSION_DENIED as Unity Catalog words it.
func TestAIGatewayInferenceTableRefusals(t *testing.T) {
	tests := []struct {
		name    string
		seed    func(t *testing.T, ws emulated)
		table   *serving.AiGatewayInferenceTableConfig
		status  int
		message string
	}{
		{"no catalog name", func(*testing.T, emulated) {}, &serving.AiGatewayInferenceTableConfig{SchemaName: "ml", Enabled: true},
			http.StatusBadRequest, "ai_gateway.inference_table_config: catalog_name and schema_name are required to enable inference tables."},
		{"no catalog", func(*testing.T, emulated) {}, &serving.AiGatewayInferenceTableConfig{CatalogName: "main", SchemaName: "ml", Enabled: true},
			http.StatusBadRequest, "ai_gateway.inference_table_config: Catalog 'main' does not exist."},
		{"no schema", func(t *testing.T, ws emulated) {
			require.NoError(t, ws.srv.Metastore().CreateCatalog(ws.srv.UserName(), "main"))
		}, &serving.AiGatewayInferenceTableConfig{CatalogName: "main", SchemaName: "ml", Enabled: true},
			http.StatusBadRequest, "ai_gateway.inference_table_config: Schema 'main.ml' does not exist."},
		{"no CREATE TABLE", func(t *testing.T, ws emulated) {
			uc := ws.srv.Metastore()
			require.NoError(t, uc.CreateCatalog("someone@else", "main"))
			require.NoError(t, uc.CreateSchema("someone@else", "main", "ml"))
			require.NoError(t, uc.Grant(catalog.SecurableTypeCatalog, "main", ws.srv.UserName(), catalog.PrivilegeUseCatalog, catalog.PrivilegeUseSchema))
		}, &serving.AiGatewayInferenceTableConfig{CatalogName: "main", SchemaName: "ml", Enabled: true},
			http.StatusForbidden, "User does not have CREATE TABLE on Schema 'main.ml'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := start(t, emulator.Options{})
			tt.seed(t, ws)
			v := ws.seed(t, "agent", 1)[0]
			_, err := ws.w.ServingEndpoints.Create(testCtx(t), serving.CreateServingEndpoint{Name: "ep",
				Config:    &serving.EndpointCoreConfigInput{ServedEntities: []serving.ServedEntityInput{entity("agent", v, true)}},
				AiGateway: &serving.AiGatewayConfig{InferenceTableConfig: tt.table},
			})
			ae := apiError(t, err)
			assert.Equal(t, tt.status, ae.StatusCode)
			assert.Equal(t, tt.message, ae.Message)
		})
	}

	t.Run("changing the table while enabled", func(t *testing.T) {
		ws, _ := startRelease(t)
		require.NoError(t, ws.srv.Metastore().CreateSchema(ws.srv.UserName(), "cat", "other"))
		c := testCtx(t)
		moved := gatewayTable()
		moved.SchemaName = "other"
		_, err := ws.w.ServingEndpoints.PutAiGateway(c, serving.PutAiGatewayRequest{Name: releaseEndpoint, InferenceTableConfig: moved})
		ae := apiError(t, err)
		assert.Equal(t, http.StatusBadRequest, ae.StatusCode)
		assert.Equal(t, "ai_gateway.inference_table_config: the catalog, schema and table name prefix cannot change while the inference table is enabled (cat.schema.prefix_payload); disable it first.", ae.Message)

		off := gatewayTable()
		off.Enabled = false
		off.ForceSendFields = []string{"Enabled"}
		_, err = ws.w.ServingEndpoints.PutAiGateway(c, serving.PutAiGatewayRequest{Name: releaseEndpoint, InferenceTableConfig: off})
		require.NoError(t, err)
		_, err = ws.w.ServingEndpoints.PutAiGateway(c, serving.PutAiGatewayRequest{Name: releaseEndpoint, InferenceTableConfig: moved})
		require.NoError(t, err, "disabled first, the table may move")
	})
}

// Legacy inference tables cannot be enabled: "Starting February 20, 2026,
// legacy inference tables can not be enabled on new or existing model
// serving endpoints. Starting March 20, 2026, the legacy inference table
// experience will no longer be supported" ("Monitor model serving
// endpoints", docs.databricks.com/en/lakehouse-monitoring/monitor-endpoints.html);
// databricks-sdk-go v0.175.0 marks AutoCaptureConfigInput deprecated for
// AI Gateway inference tables. enabled is true unless sent false
// ("Enable inference tables on model serving endpoints using the API":
// "This true by default"). The refusal's status and wording are the
// emulator's; a disabled auto_capture_config is accepted.
func TestLegacyInferenceTableRefused(t *testing.T) {
	tests := []struct {
		name    string
		capture serving.AutoCaptureConfigInput
		refused bool
	}{
		{"enabled", serving.AutoCaptureConfigInput{CatalogName: "cat", SchemaName: "schema", Enabled: true}, true},
		{"enabled by default", serving.AutoCaptureConfigInput{CatalogName: "cat", SchemaName: "schema"}, true},
		{"disabled", serving.AutoCaptureConfigInput{CatalogName: "cat", SchemaName: "schema", Enabled: false, ForceSendFields: []string{"Enabled"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := gatewayWorkspace(t)
			c := testCtx(t)
			v := ws.register(t)
			capture := tt.capture
			cfg := serving.EndpointCoreConfigInput{ServedEntities: []serving.ServedEntityInput{releaseEntity(v)}, AutoCaptureConfig: &capture}
			_, createErr := ws.w.ServingEndpoints.Create(c, serving.CreateServingEndpoint{Name: "ep", Config: &cfg})
			if !tt.refused {
				require.NoError(t, createErr)
				_, ok := ws.srv.TableRows("cat.schema.ep_payload")
				assert.False(t, ok, "no legacy table is created")
				return
			}
			wait, err := ws.w.ServingEndpoints.Create(c, serving.CreateServingEndpoint{Name: "ep2",
				Config: &serving.EndpointCoreConfigInput{ServedEntities: cfg.ServedEntities}})
			require.NoError(t, err)
			_, err = wait.Get()
			require.NoError(t, err)
			cfg.Name = "ep2"
			_, updateErr := ws.w.ServingEndpoints.UpdateConfig(c, cfg)
			for _, err := range []error{createErr, updateErr} {
				ae := apiError(t, err)
				assert.Equal(t, http.StatusBadRequest, ae.StatusCode)
				assert.Equal(t, "INVALID_PARAMETER_VALUE", ae.ErrorCode)
				assert.Contains(t, ae.Message, "Legacy inference tables (config.auto_capture_config) can no longer be enabled")
				assert.Contains(t, ae.Message, "Use AI Gateway inference tables (ai_gateway.inference_table_config) instead.")
			}
		})
	}
}
