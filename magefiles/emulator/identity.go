package emulator

import (
	"net/http"
	"strconv"

	"github.com/databricks/databricks-sdk-go/service/iam"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// registerIdentity serves the SDK's host discovery and SCIM Me, which
// names the workspace in X-Databricks-Org-Id. Me settles the state
// machines as the services' routes do.
func (s *Server) registerIdentity() {
	s.mux.HandleFunc("GET /.well-known/databricks-config", s.hostMetadata)
	me := core.Route{Handle: func(*http.Request) (any, *core.Error) {
		s.settle()
		return s.me(), nil
	}}
	s.handle("GET /api/2.0/preview/scim/v2/Me", "scim.me", false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Databricks-Org-Id", strconv.FormatInt(s.WorkspaceID(), 10))
		me.ServeHTTP(w, r)
	})
}

func (s *Server) me() iam.User {
	return iam.User{
		Id:          "1000000000000001",
		UserName:    s.user,
		DisplayName: s.user,
		Active:      true,
		Emails:      []iam.ComplexValue{{Value: s.user, Primary: true, Type: "work"}},
		Groups:      []iam.ComplexValue{{Display: "admins", Value: "1000000000000002"}, {Display: "users", Value: "1000000000000003"}},
		Schemas:     []iam.UserSchema{iam.UserSchemaUrnIetfParamsScimSchemasCore20User},
	}
}

// hostMetadata answers the SDK's host discovery (config.HostMetadata), which
// it asks without credentials while a client's configuration is resolved,
// and treats as best effort. It bypasses the gateway: it is not an API call,
// so it takes no token, no faults and no request-log entry. The fields are
// the ones databricks/cli's test server answers (libs/testserver/server.go:
// oidc_endpoint under the host, workspace_id) plus the host type in the
// spelling the SDK's HostType.UnmarshalJSON reads ("workspace", which it
// normalizes to WORKSPACE_HOST).
func (s *Server) hostMetadata(w http.ResponseWriter, _ *http.Request) {
	core.WriteJSON(w, http.StatusOK, map[string]any{
		"oidc_endpoint": s.url + "/oidc",
		"workspace_id":  strconv.FormatInt(s.WorkspaceID(), 10),
		"host_type":     "workspace",
	})
}
