package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

// emulated is one emulated workspace and an SDK client for it.
type emulated struct {
	srv *emulator.Server
	w   *databricks.WorkspaceClient
}

// start runs a workspace for the workspace-registry contract tests, which
// opt back in to the legacy registry; startUC keeps the default.
func start(t *testing.T, opts emulator.Options) emulated {
	t.Helper()
	opts.LegacyRegistry = true
	return startUC(t, opts)
}

func startUC(t *testing.T, opts emulator.Options) emulated {
	t.Helper()
	srv, err := emulator.Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	w, err := srv.WorkspaceClient()
	require.NoError(t, err)
	return emulated{srv: srv, w: w}
}

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// raw sends a request the SDK cannot express (a field left out, a wrong
// JSON type, one page of a list) and returns the status, the body and the
// headers.
func (ws emulated) raw(t *testing.T, method, path string, body any) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		data, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(testCtx(t), method, ws.srv.URL()+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+ws.srv.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, data, resp.Header
}

// errorBody is a Databricks error body.
type errorBody struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

func decodeError(t *testing.T, data []byte) errorBody {
	t.Helper()
	var e errorBody
	require.NoError(t, json.Unmarshal(data, &e), "error body: %s", data)
	return e
}

// apiError unwraps the SDK's error for its status, code and message.
func apiError(t *testing.T, err error) *apierr.APIError {
	t.Helper()
	require.Error(t, err)
	var ae *apierr.APIError
	require.ErrorAs(t, err, &ae)
	return ae
}

// entity is a served entity with scale_to_zero_enabled always sent, as
// the service requires.
func entity(model, version string, scaleToZero bool) serving.ServedEntityInput {
	return serving.ServedEntityInput{
		Name: model + "-" + version, EntityName: model, EntityVersion: version,
		WorkloadSize: "Small", ScaleToZeroEnabled: scaleToZero, ForceSendFields: []string{"ScaleToZeroEnabled"},
	}
}

// seed registers n READY versions of model.
func (ws emulated) seed(t *testing.T, model string, n int) []string {
	t.Helper()
	var out []string
	for range n {
		v, _, err := ws.srv.SeedModelVersion(model)
		require.NoError(t, err)
		out = append(out, v)
	}
	return out
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// ucVersion is a version as the training task registers it.
func ucVersion() unitycatalog.NewVersion {
	return unitycatalog.NewVersion{Source: "dbfs:/databricks/mlflow-tracking/1/abc/artifacts/agent", RunID: "abc"}
}

// serveOne seeds one version of model and serves it alone on endpoint,
// waiting until the endpoint is READY. The served entity is model-version.
func (ws emulated) serveOne(t *testing.T, endpoint, model string) string {
	t.Helper()
	v := ws.seed(t, model, 1)[0]
	wait, err := ws.w.ServingEndpoints.Create(testCtx(t), serving.CreateServingEndpoint{Name: endpoint, Config: &serving.EndpointCoreConfigInput{
		ServedEntities: []serving.ServedEntityInput{entity(model, v, true)}}})
	require.NoError(t, err)
	_, err = wait.Get()
	require.NoError(t, err)
	return v
}

// query invokes endpoint with dataframe_records.
func (ws emulated) query(t *testing.T, endpoint string, records ...any) (*serving.QueryEndpointResponse, error) {
	t.Helper()
	return ws.w.ServingEndpoints.Query(testCtx(t), serving.QueryEndpointInput{Name: endpoint, DataframeRecords: records})
}
