package emulator

import (
	"net/http"

	"github.com/databricks/databricks-sdk-go/service/iam"
)

func (s *Server) registerIdentity() {
	s.handleJSON("GET /api/2.0/preview/scim/v2/Me", "scim.me", false, func(*http.Request) (any, *apiError) {
		return s.me(), nil
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
