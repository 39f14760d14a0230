// Package unitycatalog is the emulator's Unity Catalog: one Metastore of
// catalogs, schemas, registered models, model versions, aliases and grants,
// with its own lock, shared by every workspace attached to it (all the
// workspaces of one emulator.StartWorkspaces; a single emulator.Start has
// its own).
//
// Each workspace answers the metastore's REST routes (Routes) as its own
// principal, so grants mean something: a workspace reads another's catalog
// only when granted. The rules follow the API reference:
//
//   - reading a model, its versions or aliases needs USE_CATALOG on the
//     catalog, USE_SCHEMA on the schema and EXECUTE on the model (or
//     ownership at each level; grants on a parent apply to its children);
//   - creating a model needs USE_CATALOG, USE_SCHEMA and CREATE_MODEL (or
//     CREATE_FUNCTION) on the schema;
//   - changing a model (versions, aliases, comment, deletion) needs its
//     ownership or MANAGE, with USE_CATALOG and USE_SCHEMA;
//   - changing grants needs ownership of the securable or a parent, or MANAGE.
//
// Missing things answer 404 (CATALOG_DOES_NOT_EXIST, SCHEMA_DOES_NOT_EXIST,
// RESOURCE_DOES_NOT_EXIST "Routine or Model '<name>' does not exist."),
// missing privileges 403 PERMISSION_DENIED "User does not have EXECUTE on
// Routine or Model '<name>'.", a duplicate model 409 RESOURCE_ALREADY_EXISTS
// and an alias outside letters, digits and underscores 400
// INVALID_PARAMETER_VALUE. tests/contract cites the evidence.
//
// Versions are registered (RegisterVersion: the training task; Promote: the
// promotion task's copy) PENDING_REGISTRATION and become READY after the
// registration time on the emulator's scaled clock, or FAILED_REGISTRATION
// with a status message (FailNextRegistration), or stay pending
// (HoldNextRegistration). The SDK's ModelVersionInfo has no status
// message; MLflow's Unity Catalog route
// /api/2.0/mlflow/unity-catalog/model-versions/get carries it.
//
// Tests and the demo seed the metastore in Go: CreateCatalog, CreateSchema,
// Grant, Revoke.
package unitycatalog
