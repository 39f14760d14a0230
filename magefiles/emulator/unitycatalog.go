package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// registerUnityCatalog serves the metastore's routes as this workspace's
// principal. The metastore has its own lock; s.mu is not held.
func (s *Server) registerUnityCatalog() {
	for _, rt := range s.uc.Routes(s.user) {
		handle := rt.Handle
		s.handle(rt.Pattern, rt.Op, rt.Mutating, func(w http.ResponseWriter, r *http.Request) {
			body, aerr := readBody(r)
			if aerr != nil {
				writeError(w, aerr)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			out, aerr := handle(r)
			if aerr != nil {
				writeError(w, aerr)
				return
			}
			if out == nil {
				out = struct{}{}
			}
			raw, err := json.Marshal(out)
			if err != nil {
				writeError(w, newError(http.StatusInternalServerError, codeInternal, "encode response: %v", err))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(raw)
		})
	}
}

// errLegacyRegistryDisabled is the answer of every workspace model registry
// route on a workspace without it (Options.LegacyRegistry).
func errLegacyRegistryDisabled() *apiError {
	return newError(http.StatusForbidden, codePermissionDenied, "The legacy workspace model registry is disabled for the current Databricks workspace.")
}

// legacyRegistryPrefixes are the workspace model registry's route families.
var legacyRegistryPrefixes = []string{
	"/api/2.0/mlflow/registered-models/",
	"/api/2.0/mlflow/model-versions/",
	"/api/2.0/mlflow/databricks/registered-models/",
	"/api/2.0/mlflow/databricks/model-versions/",
	"/api/2.0/mlflow/transition-requests/",
	"/api/2.0/mlflow/comments/",
	"/api/2.0/mlflow/registry-webhooks/",
}

// registerLegacyRegistryDisabled answers every workspace registry route
// with the 403 of a workspace whose legacy registry is disabled.
func (s *Server) registerLegacyRegistryDisabled() {
	for _, p := range legacyRegistryPrefixes {
		s.handle(p, "registry.disabled", false, func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, errLegacyRegistryDisabled())
		})
	}
}
