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
//     ownership, with USE_CATALOG and USE_SCHEMA, as the SDK's docs say;
//     with Options.ModelVersionGrants, CREATE MODEL VERSION on the model
//     also allows registering versions, as the newer pages say;
//   - changing grants needs ownership of the securable or a parent, or MANAGE.
//
// Missing things answer 404 (CATALOG_DOES_NOT_EXIST, SCHEMA_DOES_NOT_EXIST,
// RESOURCE_DOES_NOT_EXIST "Routine or Model '<name>' does not exist."),
// missing privileges 403 PERMISSION_DENIED "User does not have EXECUTE on
// Routine or Model '<name>'.", a duplicate model 409 RESOURCE_ALREADY_EXISTS
// and an alias outside word characters and dashes 400
// INVALID_PARAMETER_VALUE. tests/contract cites the evidence.
//
// Versions are registered as MLflow's Unity Catalog store registers them
// (registration.go): create (PENDING_REGISTRATION, with a storage
// location), temporary credentials, upload, finalize (READY, or
// FAILED_REGISTRATION when scripted by FailNextRegistration). Nothing
// finalizes a version on its own: a task scripted to die after a step
// (InterruptNextRegistration) leaves it pending. The training task
// registers through RegisterModel (RegisterVersion, as package jobs' task
// registrar), the promotion task's copy through Promote; MLflow clients
// use the routes. Serving asks VersionStatus whether a version may be
// served. The SDK's ModelVersionInfo has no status message; MLflow's route
// model-versions/get carries it.
//
// Tables (tables.go) are the inference payload tables serving endpoints
// create (CreateTable: USE CATALOG, USE SCHEMA and CREATE TABLE, as the
// inference tables docs require) and append to (AppendRow); package
// sqlwarehouse reads them (Table) with no grant checked. The metastore is
// not persisted, so each workspace writes the tables it owns to its state
// file (TablesOwnedBy) and puts them back when it starts (RestoreTables).
// System tables (system.*) hold no rows of their own: each workspace
// attached to them (AttachSystemTable) supplies its rows from its own
// state when the table is read.
//
// Tests and the demo seed the metastore in Go: CreateCatalog, CreateSchema,
// Grant, Revoke.
//
// The metastore calls no other service while it holds its lock. Read
// metastore.go, privileges.go, models.go, registration.go, promote.go,
// tables.go, then routes.go.
package unitycatalog
