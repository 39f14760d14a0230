package emulator

import (
	"net/http"
	"strconv"

	"github.com/databricks/databricks-sdk-go/service/iam"
)

func (s *Server) registerIdentity() {
	me := s.handleFunc(func(*http.Request) (any, *apiError) { return s.me(), nil })
	s.handle("GET /api/2.0/preview/scim/v2/Me", "scim.me", false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Databricks-Org-Id", strconv.FormatInt(s.WorkspaceID(), 10))
		me(w, r)
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
