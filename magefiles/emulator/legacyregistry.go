package emulator

import "net/http"

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
