package contract

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/databricks/databricks-sdk-go/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// SCIM Me answers with the workspace id in an X-Databricks-Org-Id header
// (databricks/cli libs/testserver/handlers.go, which mirrors the service
// for the CLI's acceptance tests).
func TestMeSendsTheWorkspaceID(t *testing.T) {
	ws := start(t, emulator.Options{WorkspaceID: 7474747474747474})
	status, _, h := ws.raw(t, http.MethodGet, "/api/2.0/preview/scim/v2/Me", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "7474747474747474", h.Get("X-Databricks-Org-Id"))

	other := start(t, emulator.Options{})
	_, _, h = other.raw(t, http.MethodGet, "/api/2.0/preview/scim/v2/Me", nil)
	assert.Equal(t, strconv.FormatInt(emulator.DefaultWorkspaceID, 10), h.Get("X-Databricks-Org-Id"))
}

// A body the service cannot parse is 400 MALFORMED_REQUEST: "Invalid JSON
// given in the body of the request - failed to parse given JSON" for text
// that is not JSON, and "Could not parse request object: Expected ... for
// JSON map field base_parameters, got (an empty value) instead." for a value
// of the wrong shape (both quoted from real responses in public code
// comments). A wrong scalar type is held to the same status and code,
// naming the field; its exact wording is not quoted publicly. The SDK's own
// decoding would have accepted "entity_version": 1 (it retries a failed
// value as a string), so the raw request is what is tested. Integers may come quoted, as the
// "Serve multiple models to a model serving endpoint" document's examples
// send "traffic_percentage": "90".
func TestWrongJSONTypes(t *testing.T) {
	ws := start(t, emulator.Options{})
	v := ws.seed(t, "agent", 1)
	entity := func(extra string) string {
		return fmt.Sprintf(`{"name":"ep","config":{"served_entities":[{"entity_name":"agent","entity_version":"%s","workload_size":"Small","scale_to_zero_enabled":true%s}]}}`, v[0], extra)
	}
	for _, tc := range []struct {
		name string
		body string
		msg  string
	}{
		{"not JSON", `{"name":`, "Invalid JSON given in the body of the request - failed to parse given JSON"},
		{"string for a bool", entity(`,"name":"a","scale_to_zero_enabled":"yes"`), "config.served_entities[0].scale_to_zero_enabled"},
		{"number for a string", `{"name":"ep","config":{"served_entities":[{"entity_name":"agent","entity_version":1,"scale_to_zero_enabled":true}]}}`, "config.served_entities[0].entity_version"},
		{"object for a list", `{"name":"ep","config":{"served_entities":{}}}`, "config.served_entities"},
		{"word for an integer", `{"name":"ep","config":{"served_entities":[],"traffic_config":{"routes":[{"served_model_name":"a","traffic_percentage":"ninety"}]}}}`, "traffic_percentage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, data, _ := ws.raw(t, http.MethodPost, "/api/2.0/serving-endpoints", tc.body)
			require.Equal(t, http.StatusBadRequest, status, "%s", data)
			e := decodeError(t, data)
			assert.Equal(t, "MALFORMED_REQUEST", e.ErrorCode)
			assert.Contains(t, e.Message, tc.msg)
		})
	}
	status, data, _ := ws.raw(t, http.MethodPost, "/api/2.0/serving-endpoints",
		fmt.Sprintf(`{"name":"ep","config":{"served_entities":[{"name":"a","entity_name":"agent","entity_version":"%s","workload_size":"Small","scale_to_zero_enabled":true}],"traffic_config":{"routes":[{"served_model_name":"a","traffic_percentage":"100"}]}}}`, v[0]))
	assert.Equal(t, http.StatusOK, status, "a quoted integer is taken: %s", data)
}

// The SDK (from v0.126.0, per databricks/cli libs/testserver/server.go)
// asks GET /.well-known/databricks-config without credentials while it
// resolves a client's configuration, and reads config.HostMetadata from it.
// The CLI's test server answers oidc_endpoint (under the host) and
// workspace_id; the CLI's recorded requests (acceptance/auth/credentials/
// pat/out.requests.txt) show the call carrying no Authorization header. The
// SDK reads host_type through HostType.UnmarshalJSON, which takes
// "workspace", "account" or "unified" (config/config.go) and leaves any
// other spelling unknown, so that is the spelling held here. The SDK falls
// back with a warning when the call fails, so a workspace that
// answered it with 401 would still work, but print that warning on every
// client.
func TestHostMetadataDiscovery(t *testing.T) {
	ws := start(t, emulator.Options{WorkspaceID: 7474747474747474})
	req, err := http.NewRequest(http.MethodGet, ws.srv.URL()+"/.well-known/databricks-config", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var meta config.HostMetadata
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&meta))
	assert.Equal(t, "7474747474747474", meta.WorkspaceID)
	assert.Equal(t, ws.srv.URL()+"/oidc", meta.OIDCEndpoint)
	assert.Equal(t, config.WorkspaceHost, meta.HostType)

	// The SDK's own resolution takes the workspace id from it.
	cfg := &config.Config{Host: ws.srv.URL(), Token: ws.srv.Token()}
	require.NoError(t, cfg.EnsureResolved())
	assert.Equal(t, "7474747474747474", cfg.WorkspaceID)
}
