// Package registry is the emulator's workspace model registry
// (/api/2.0/mlflow/registered-models/..., model-versions/...): one
// workspace's registered models and their versions, with its own lock,
// answering the routes databricks-sdk-go calls (Routes): registered models
// create, get, search, list, set and delete tag, update, delete and
// get-latest-versions; model versions create, get, search, update, set
// and delete tag, delete, transition-stage and get-download-uri. Searches
// take MLflow filters (package filter) such as name='agent' AND
// run_id='...'.
//
// The registry is off unless Options.Enabled, as on the workspaces of new
// accounts: every registry route family then answers 403
// PERMISSION_DENIED "The legacy workspace model registry is disabled for
// the current Databricks workspace.", and a training run that names a
// workspace-registry model fails with that message.
//
// A version created through the API is PENDING_REGISTRATION for
// Options.Registration and then READY, or FAILED_REGISTRATION when its
// source run logged no model where the source says (asked of Options.Runs,
// the workspace's MLflow tracking) or a failure is scripted
// (FailNextRegistration). Register is MLflow's log_model registration,
// which waits: the version is settled at once. The rest of the workspace
// reaches the registry through RegisterModel (the training task's
// registrar), VersionStatus (whether serving may serve a version) and
// ModelVersion (tests).
//
// Registered model ids come from the workspace's seeded generator
// (Options.Random). New restores what the state file held (State) and
// MarshalState encodes it, under the keys "registered_models" and
// "registration_failures".
//
// Lock order: the store holds its lock while it asks MLflow tracking about
// a source run; the jobs store and the serving store may call it while
// holding theirs. Read store.go, then routes.go.
package registry
