package emulator

import (
	"path/filepath"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// capturing serves one version of agent on ep, capturing into
// main.ml.agent_payload.
func capturing(t *testing.T, srv *Server) serving.CreateServingEndpoint {
	t.Helper()
	if _, ok := srv.Metastore().Table("main.ml.agent_payload"); !ok {
		require.NoError(t, srv.Metastore().CreateCatalog(srv.UserName(), "main"))
		require.NoError(t, srv.Metastore().CreateSchema(srv.UserName(), "main", "ml"))
	}
	cfg := served("ep", "agent", seed(t, srv, "agent", 1), nil)
	cfg.AutoCaptureConfig = &serving.AutoCaptureConfigInput{CatalogName: "main", SchemaName: "ml", TableNamePrefix: "agent", Enabled: true}
	return serving.CreateServingEndpoint{Name: "ep", Config: &cfg}
}

func TestCaptureRecordsEveryAnswer(t *testing.T) {
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
			_, err := createEndpointAndWait(ctx(t), w, capturing(t, srv))
			require.NoError(t, err)
			if tt.behavior != nil {
				srv.SetVersionBehavior("agent", "1", *tt.behavior)
			}
			_, _ = query(t, w, "ep", map[string]any{"message": "hi"})
			rows, ok := srv.TableRows("main.ml.agent_payload")
			require.True(t, ok)
			require.Len(t, rows, 1)
			assert.Equal(t, tt.status, *rows[0]["status_code"])
			assert.Nil(t, rows[0]["client_request_id"])
			assert.Contains(t, *rows[0]["request"], `"dataframe_records"`)
		})
	}
}

func TestCaptureStopsWhenDisabled(t *testing.T) {
	srv, w := start(t, Options{})
	req := capturing(t, srv)
	_, err := createEndpointAndWait(ctx(t), w, req)
	require.NoError(t, err)
	off := *req.Config
	off.Name = "ep"
	off.AutoCaptureConfig = &serving.AutoCaptureConfigInput{Enabled: false, ForceSendFields: []string{"Enabled"}}
	ep, err := updateConfigAndWait(ctx(t), w, off)
	require.NoError(t, err)
	assert.False(t, ep.Config.AutoCaptureConfig.Enabled)
	assert.Nil(t, ep.Config.AutoCaptureConfig.State)
	_, err = query(t, w, "ep", map[string]any{"message": "hi"})
	require.NoError(t, err)
	rows, _ := srv.TableRows("main.ml.agent_payload")
	assert.Empty(t, rows)
}

func TestAIGatewayInferenceTableRefused(t *testing.T) {
	srv, w := start(t, Options{})
	req := capturing(t, srv)
	req.AiGateway = &serving.AiGatewayConfig{InferenceTableConfig: &serving.AiGatewayInferenceTableConfig{CatalogName: "main", SchemaName: "ml", Enabled: true}}
	_, err := w.ServingEndpoints.Create(ctx(t), req)
	assert.ErrorContains(t, err, "ai_gateway.inference_table_config is not supported")
}

// Captured rows persist in the workspace's state file, though the
// metastore does not.
func TestCapturedRowsPersist(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	first, err := Start(Options{StateFile: file, LegacyRegistry: true})
	require.NoError(t, err)
	w, err := first.WorkspaceClient()
	require.NoError(t, err)
	_, err = createEndpointAndWait(ctx(t), w, capturing(t, first))
	require.NoError(t, err)
	_, err = query(t, w, "ep", map[string]any{"message": "hi"})
	require.NoError(t, err)
	require.NoError(t, first.Close())

	second, _ := start(t, Options{StateFile: file})
	rows, ok := second.TableRows("main.ml.agent_payload")
	require.True(t, ok)
	assert.Len(t, rows, 1)
}
