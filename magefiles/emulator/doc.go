// Package emulator is a local Databricks workspace: a real HTTP server on
// 127.0.0.1 that speaks the REST paths databricks-sdk-go calls, decodes and
// encodes the SDK's own structs, and runs the service's state machines with
// their timing, so the real SDK client (its waiters, retries and error
// mapping) is exercised end to end without a workspace. The CD stages are
// tested against it and `mage demo` runs on it.
//
// Start one in-process and point the SDK at it:
//
//	srv, err := emulator.Start(emulator.Options{})
//	defer srv.Close()
//	w, err := databricks.NewWorkspaceClient(srv.Config()) // PAT: srv.URL(), srv.Token()
//
// or run `mage emulator:serve` and paste the DATABRICKS_HOST and
// DATABRICKS_TOKEN it prints. StartWorkspaces (`mage emulator:serve
// -workspaces=dev,staging,prod`) runs several workspaces in one process,
// each with its own state, URL, token and workspace id, as dev, staging and
// prod are in reality.
//
// The emulator is held to Databricks' public contract by tests/contract,
// whose tests cite their sources; the README lists what is known not to
// follow evidence.
//
// # What it serves
//
//   - Identity: SCIM Me, with the workspace id in X-Databricks-Org-Id
//     (Options.WorkspaceID). Every route wants "Authorization: Bearer <token>":
//     none is 401 UNAUTHENTICATED, a wrong one 403 PERMISSION_DENIED.
//   - Workspace files (package workspacefiles): mkdirs, import (JSON and
//     multipart upload, SOURCE, AUTO, RAW), export (JSON or direct
//     download), get-status, list, delete. Import needs the parent folder,
//     as on the real workspace. Server.WorkspaceFile reads a file in Go.
//   - Jobs 2.2: create, reset, update, get, list (name filter, pages),
//     delete, run-now (idempotency token; a run over max_concurrent_runs is
//     QUEUED, as Jobs API 2.2 queues by default, or SKIPPED with
//     queue.enabled false), runs/get, runs/get-output (per task run), runs/list,
//     runs/cancel. Runs go PENDING -> RUNNING -> TERMINATED (SUCCESS, FAILED
//     or CANCELED). A successful run simulates the project's training entry
//     point (see training.go and ModelArtifactPath): it logs an MLflow run
//     with the model at runs:/<run_id>/agent, registers a version under
//     --model-name and prints the training report, whose "run_id" the deploy
//     stage reads from jobs/runs/get-output of the training task's run. A
//     three-level --model-name registers in Unity Catalog (the model must
//     exist). A task passing --target-model is the promotion job's copy
//     task (promotion.go): it copies a source version into the target
//     model once and sets the release alias on the copy.
//   - MLflow tracking (package tracking): experiments (create, get,
//     get-by-name), runs (create, get, search, set-tag, update),
//     artifacts/list. Searches, here and in the workspace registry, take
//     MLflow filters (package filter).
//   - Unity Catalog (package unitycatalog): catalogs get, schemas get,
//     registered models create, get, list (catalog_name, schema_name, page
//     tokens), update, delete, aliases set and delete, model versions get,
//     list, update, delete and get by alias (include_aliases), grants get,
//     get-effective and update on catalog, schema and function (registered
//     model) securables. One metastore is shared by the workspaces of one
//     StartWorkspaces (Options.Metastore; a single Start has its own), and
//     each workspace answers as its own principal (StartWorkspaces names
//     them emulator+<name>@localhost), so grants decide what a workspace
//     may read: no grant is 403 PERMISSION_DENIED. Options.CatalogSchema
//     seeds a catalog per workspace with that schema, each workspace
//     granted read on the previous one's catalog (dev -> staging -> prod);
//     Metastore().CreateCatalog, CreateSchema, Grant and Revoke seed in Go.
//     Versions are registered as MLflow registers them (MLflow's
//     model-versions/create, generate-temporary-credentials, finalize):
//     PENDING_REGISTRATION until finalized, then READY, or
//     FAILED_REGISTRATION when scripted (Metastore().FailNextRegistration);
//     a task scripted to die mid-registration
//     (InterruptNextRegistration) leaves its version pending.
//   - Workspace model registry, only with Options.LegacyRegistry (off by
//     default, as on new accounts' workspaces, where every registry route
//     answers 403 PERMISSION_DENIED "The legacy workspace model registry is
//     disabled for the current Databricks workspace."): registered models
//     (create, get, search, list, set/delete tag, update, delete,
//     get-latest-versions) and model versions (create, get, search, update,
//     set/delete tag, delete, transition-stage, get-download-uri). Versions
//     go PENDING_REGISTRATION -> READY, or FAILED_REGISTRATION when the
//     source run logged no model or a failure is scripted. Searches take
//     MLflow filters such as name='agent' AND run_id='...'.
//   - Model serving: endpoints create, get, list, delete, update-config,
//     build-logs, server logs and the metrics export; invocations. See
//     serving.go for the config update state machine and validations
//     (routes name served entities and sum to 100; one update at a time).
//     Served entities name a workspace-registry model or a Unity Catalog
//     model (catalog.schema.model) and version, which must be READY.
//     Invocations are routed by the traffic percentages, answered by the
//     served version's Behavior and carry the served-model-name header. A
//     version whose model raises answers 400 BAD_REQUEST with the MLflow
//     scoring server's message, as the service does; 5xx come only from
//     injected platform faults (Behavior.PlatformErrorRate, fault rules).
//     GET /api/2.0/serving-endpoints/{name}/metrics exports Prometheus
//     text per served entity, counted from the traffic actually served, in
//     the service's shape: request_count_total, request_4xx_count_total and
//     request_5xx_count_total as gauges holding the last complete minute of
//     service time (Options.MetricsClock, or the clock scaled by
//     TimeScale), stamped with the minute's start, and a per-minute
//     request_latency_ms histogram stamped the same way.
//     Options.Metrics leaves latency out (as some workspaces do) or exports
//     cumulative counters instead.
//   - Inference tables (inferencetables.go) are AI Gateway's: an
//     endpoint's ai_gateway.inference_table_config (catalog, schema,
//     table_name_prefix defaulting to the endpoint's name), set on create
//     or by PUT .../ai-gateway (which is not a config update), creates
//     <catalog>.<schema>.<prefix>_payload in the metastore, which needs the
//     catalog and schema and CREATE TABLE on it, and every invocation
//     appends one row (PayloadColumns) before it is answered. Each row
//     names the served entity that answered by its served_entity_id
//     (Server.ServedEntityID), which the system table
//     system.serving.served_entities (ServedEntitiesTable) maps to a model
//     and version: one row per served entity ever deployed by the
//     workspaces sharing the metastore. The other ai_gateway fields are
//     stored and echoed. Enabling the legacy auto_capture_config is
//     refused. The payload table is the workspace's (its principal owns
//     it), so its rows persist in the workspace's state file, as do the
//     served entities. Server.TableRows reads a table in Go.
//   - SQL (package sqlwarehouse): one RUNNING warehouse per workspace
//     (Options.WarehouseID, default DefaultWarehouseID; Server.WarehouseID),
//     warehouses list and get, and the Statement Execution API (execute,
//     get) running a tiny SELECT subset over the metastore's tables and
//     system tables, in JSON_ARRAY and INLINE only.
//
// Request bodies are checked against the SDK structs: an unknown field is
// 400 INVALID_PARAMETER_VALUE, a value of the wrong JSON type or a body
// that is not JSON 400 MALFORMED_REQUEST naming the field, so a client-side
// mistake fails here as it does on the service. A served entity must send
// scale_to_zero_enabled. Errors are the Databricks JSON body
// {"error_code": "...", "message": "..."} with the service's status
// (RESOURCE_DOES_NOT_EXIST 404; RESOURCE_ALREADY_EXISTS 400 for workspace
// files; a missing job or run 400 INVALID_PARAMETER_VALUE, which the SDK
// remaps to not-found for jobs/get and runs/get; RESOURCE_CONFLICT 409,
// ...). Options.RoutesByModelName answers traffic routes by
// served_model_name only.
//
// # Model behaviour
//
// By default every model version answers like the served Python model: the
// Go stand-in in package agentmodel implements its decision rules and
// response contract, and the shared cases in tests/integration/cases.json
// run against both, which keeps them in agreement. SetVersionBehavior makes
// a version slow (a latency distribution), flaky (5xx and 4xx rates), wrong
// (fixed responses) or undeployable (BuildFailure), so a bad canary can be
// rolled out and caught.
//
// # Scripting, faults, time and state
//
// ScriptNextRun, FailNextEndpointUpdate and FailNextRegistration script
// failures of the state machines. InjectFaults and AddFaultRule inject
// bounded gateway faults (429, 503, 500, slow responses, reset connections)
// per route or globally. Options.TimeScale sets the clock scale: 0 settles
// every state machine by the next read (tests), 0.01 turns a 5-minute
// update into 3 seconds (the demo), 1 is real time; a ManualClock steps time
// explicitly. Options.StateFile persists the workspace as JSON so separate
// mage invocations share it (each service package's part under its own
// key). Requests and MutatingRequests return the
// request log (method, path, operation, status) for assertions such as "no
// mutating request happened".
//
// # Locks
//
// Server's lock guards this package's state (jobs, the workspace registry,
// serving). Each service package has its own lock and never takes the
// server's, so the order is: the server's lock, then a service's (a
// training run logs to tracking.Store and registers in
// unitycatalog.Metastore while the server's lock is held; the workspace
// registry asks tracking whether a version's source run logged a model),
// then core.Random's, the seeded generator every service draws ids from,
// last. Services never call one another, but for one read: package
// sqlwarehouse reads tables from the metastore before it takes its own
// lock, so neither lock is held across the other. A system table's rows
// come from each attached workspace, which the metastore asks without its
// own lock held; the workspace then takes its server's lock.
package emulator
