//lint:file-ignore SA1019 the legacy auto_capture_config is deprecated; the emulator refuses it as the service does, which needs its type

package emulator

import (
	"path/filepath"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	emuserving "github.com/hitl-mlops/interrupt-agent/magefiles/emulator/serving"
)

// logging serves one version of agent on ep with an AI Gateway inference
// table main.ml.agent_payload.
func logging(t *testing.T, srv *Server) serving.CreateServingEndpoint {
	t.Helper()
	if _, ok := srv.Metastore().Table("main.ml.agent_payload"); !ok {
		require.NoError(t, srv.Metastore().CreateCatalog(srv.UserName(), "main"))
		require.NoError(t, srv.Metastore().CreateSchema(srv.UserName(), "main", "ml"))
	}
	cfg := served("ep", "agent", seed(t, srv, "agent", 1), nil)
	return serving.CreateServingEndpoint{Name: "ep", Config: &cfg, AiGateway: &serving.AiGatewayConfig{
		InferenceTableConfig: &serving.AiGatewayInferenceTableConfig{CatalogName: "main", SchemaName: "ml", TableNamePrefix: "agent", Enabled: true},
	}}
}

func TestPayloadLogsEveryAnswer(t *testing.T) {
	tests := []struct {
		name     string
		behavior *Behavior
		status   string
	}{
		{"a prediction", nil, "200"},
		{"a model error", &Behavior{ClientErrorRate: 1}, "400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, w := start(t, Options{})
			_, err := createEndpointAndWait(ctx(t), w, logging(t, srv))
			require.NoError(t, err)
			if tt.behavior != nil {
				srv.SetVersionBehavior("agent", "1", *tt.behavior)
			}
			_, _ = query(t, w, "ep", map[string]any{"message": "hi"})
			rows, ok := srv.TableRows("main.ml.agent_payload")
			require.True(t, ok)
			require.Len(t, rows, 1)
			row := rows[0]
			assert.Equal(t, tt.status, *row["status_code"])
			assert.Nil(t, row["client_request_id"])
			assert.Contains(t, *row["request"], `"dataframe_records"`)
			assert.Regexp(t, `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`, *row["request_time"])
			assert.Equal(t, (*row["request_time"])[:10], *row["request_date"])
			assert.Equal(t, "[]", *row["logging_error_codes"])
			assert.Equal(t, srv.UserName(), *row["requester"])
			id, ok := srv.ServedEntityID("ep", "agent-1")
			require.True(t, ok)
			assert.Regexp(t, `^[0-9a-f]{32}$`, id)
			assert.Equal(t, id, *row["served_entity_id"])
		})
	}
}

func TestPayloadStopsWhenDisabled(t *testing.T) {
	srv, w := start(t, Options{})
	_, err := createEndpointAndWait(ctx(t), w, logging(t, srv))
	require.NoError(t, err)
	_, err = w.ServingEndpoints.PutAiGateway(ctx(t), serving.PutAiGatewayRequest{Name: "ep",
		InferenceTableConfig: &serving.AiGatewayInferenceTableConfig{Enabled: false, ForceSendFields: []string{"Enabled"}}})
	require.NoError(t, err)
	_, err = query(t, w, "ep", map[string]any{"message": "hi"})
	require.NoError(t, err)
	rows, ok := srv.TableRows("main.ml.agent_payload")
	require.True(t, ok, "disabling keeps the table")
	assert.Empty(t, rows)
}

// Enabling a legacy auto_capture_config is refused on create and update;
// sending it disabled is accepted.
func TestLegacyCaptureRefused(t *testing.T) {
	tests := []struct {
		name    string
		capture serving.AutoCaptureConfigInput
		refused bool
	}{
		{"enabled", serving.AutoCaptureConfigInput{CatalogName: "main", SchemaName: "ml", Enabled: true}, true},
		{"enabled by default", serving.AutoCaptureConfigInput{CatalogName: "main", SchemaName: "ml"}, true},
		{"disabled", serving.AutoCaptureConfigInput{Enabled: false, ForceSendFields: []string{"Enabled"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, w := start(t, Options{})
			req := logging(t, srv)
			capture := tt.capture
			req.Config.AutoCaptureConfig = &capture
			_, err := createEndpointAndWait(ctx(t), w, req)
			update := *req.Config
			if tt.refused {
				assert.ErrorContains(t, err, "Legacy inference tables (config.auto_capture_config) can no longer be enabled")
				req.Config.AutoCaptureConfig = nil
				_, err = createEndpointAndWait(ctx(t), w, req)
				require.NoError(t, err)
				_, err = updateConfigAndWait(ctx(t), w, update)
				assert.ErrorContains(t, err, "Use AI Gateway inference tables (ai_gateway.inference_table_config) instead.")
				return
			}
			require.NoError(t, err)
			_, err = updateConfigAndWait(ctx(t), w, update)
			require.NoError(t, err)
		})
	}
}

// A served entity keeps its served_entity_id while a config update leaves
// it as it is; a new version is a new served entity. The system table has
// a row per entity deployed, stamped when its endpoint is deleted.
func TestServedEntityIDs(t *testing.T) {
	srv, w := start(t, Options{})
	req := logging(t, srv)
	_, err := createEndpointAndWait(ctx(t), w, req)
	require.NoError(t, err)
	first, _ := srv.ServedEntityID("ep", "agent-1")

	same := *req.Config
	_, err = updateConfigAndWait(ctx(t), w, same)
	require.NoError(t, err)
	kept, _ := srv.ServedEntityID("ep", "agent-1")
	assert.Equal(t, first, kept, "an unchanged entity keeps its id")

	v2 := seed(t, srv, "agent", 1)[0]
	_, err = updateConfigAndWait(ctx(t), w, served("ep", "agent", []string{v2}, nil))
	require.NoError(t, err)
	second, ok := srv.ServedEntityID("ep", "agent-"+v2)
	require.True(t, ok)
	assert.NotEqual(t, first, second)
	_, ok = srv.ServedEntityID("ep", "agent-1")
	assert.False(t, ok, "the old entity is no longer served")

	rows, ok := srv.TableRows(emuserving.ServedEntitiesTable)
	require.True(t, ok)
	require.Len(t, rows, 2)
	assert.Equal(t, first, *rows[0]["served_entity_id"])
	assert.Equal(t, "1", *rows[0]["entity_version"])
	assert.Equal(t, "1", *rows[0]["endpoint_config_version"])
	assert.Equal(t, second, *rows[1]["served_entity_id"])
	assert.Equal(t, v2, *rows[1]["entity_version"])
	assert.Equal(t, "3", *rows[1]["endpoint_config_version"])
	for _, r := range rows {
		assert.Equal(t, "CUSTOM_MODEL", *r["entity_type"])
		assert.Equal(t, emuserving.AccountID, *r["account_id"])
		assert.Nil(t, r["task"])
		assert.Nil(t, r["endpoint_delete_time"])
	}

	require.NoError(t, w.ServingEndpoints.DeleteByName(ctx(t), "ep"))
	rows, _ = srv.TableRows(emuserving.ServedEntitiesTable)
	require.Len(t, rows, 2, "rows outlive the endpoint")
	for _, r := range rows {
		assert.NotNil(t, r["endpoint_delete_time"])
	}
}

// PUT ai-gateway replaces the gateway without a config update.
func TestPutAIGatewayIsNotAConfigUpdate(t *testing.T) {
	srv, w := start(t, Options{})
	req := logging(t, srv)
	req.AiGateway = nil
	before, err := createEndpointAndWait(ctx(t), w, req)
	require.NoError(t, err)
	got, err := w.ServingEndpoints.PutAiGateway(ctx(t), serving.PutAiGatewayRequest{Name: "ep",
		InferenceTableConfig: &serving.AiGatewayInferenceTableConfig{CatalogName: "main", SchemaName: "ml", Enabled: true},
		UsageTrackingConfig:  &serving.AiGatewayUsageTrackingConfig{Enabled: true},
	})
	require.NoError(t, err)
	assert.True(t, got.InferenceTableConfig.Enabled)
	assert.True(t, got.UsageTrackingConfig.Enabled)
	after, err := w.ServingEndpoints.GetByName(ctx(t), "ep")
	require.NoError(t, err)
	assert.Equal(t, serving.EndpointStateConfigUpdateNotUpdating, after.State.ConfigUpdate)
	assert.Equal(t, before.Config.ConfigVersion, after.Config.ConfigVersion)
	assert.Nil(t, after.PendingConfig)
	_, ok := srv.TableRows("main.ml.ep_payload")
	assert.True(t, ok, "the prefix defaults to the endpoint's name")
}

// The workspaces sharing a metastore read one served entities table, as
// system tables hold the whole account's rows.
func TestServedEntitiesAccountWide(t *testing.T) {
	ws, err := StartWorkspaces([]string{"dev", "prod"}, Options{LegacyRegistry: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ws.Close()) })
	for _, name := range ws.Names() {
		srv := ws.Get(name)
		w, err := srv.WorkspaceClient()
		require.NoError(t, err)
		_, err = createEndpointAndWait(ctx(t), w, serving.CreateServingEndpoint{Name: "ep-" + name, Config: ptrTo(served("", "agent", seed(t, srv, "agent", 1), nil))})
		require.NoError(t, err)
	}
	rows, ok := ws.Get("dev").TableRows(emuserving.ServedEntitiesTable)
	require.True(t, ok)
	var names, workspaces []string
	for _, r := range rows {
		names = append(names, *r["endpoint_name"])
		workspaces = append(workspaces, *r["workspace_id"])
	}
	assert.Equal(t, []string{"ep-dev", "ep-prod"}, names)
	assert.NotEqual(t, workspaces[0], workspaces[1])
}

// Logged rows and served entities persist in the workspace's state file,
// though the metastore does not.
func TestPayloadRowsPersist(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	first, err := Start(Options{StateFile: file, LegacyRegistry: true})
	require.NoError(t, err)
	w, err := first.WorkspaceClient()
	require.NoError(t, err)
	_, err = createEndpointAndWait(ctx(t), w, logging(t, first))
	require.NoError(t, err)
	_, err = query(t, w, "ep", map[string]any{"message": "hi"})
	require.NoError(t, err)
	id, _ := first.ServedEntityID("ep", "agent-1")
	require.NoError(t, first.Close())

	second, _ := start(t, Options{StateFile: file})
	rows, ok := second.TableRows("main.ml.agent_payload")
	require.True(t, ok)
	require.Len(t, rows, 1)
	assert.Equal(t, id, *rows[0]["served_entity_id"])
	entities, _ := second.TableRows(emuserving.ServedEntitiesTable)
	require.Len(t, entities, 1)
	assert.Equal(t, id, *entities[0]["served_entity_id"])
}
