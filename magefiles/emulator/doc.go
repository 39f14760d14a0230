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
// each with its own state, URL, token, principal and workspace id, as dev,
// staging and prod are in reality, all attached to one Unity Catalog
// metastore.
//
// The emulator is held to Databricks' public contract by tests/contract,
// whose tests cite their sources; the README lists what is known not to
// follow evidence.
//
// # Layout
//
// This package is the workspace around its services: the server and its
// gateway (server.go), which authenticates every route ("Authorization:
// Bearer <token>": none is 401 UNAUTHENTICATED, a wrong one 403
// PERMISSION_DENIED), applies injected faults (faults.go) and keeps the
// request log (requestlog.go); Options (options.go); SCIM Me with the
// workspace id in X-Databricks-Org-Id (identity.go); the state file
// (state.go); what tests and the demo script and read in Go (services.go);
// and several workspaces in one process (workspaces.go, serve.go).
//
// Each service is a package of its own, as the SDK lays its services out,
// with its own lock, its Routes and its state machines on the emulator's
// clock:
//
//   - core: what the services share (errors, strict decoding of the SDK's
//     structs, routes, the clock, ids and paging);
//   - workspacefiles: workspace files and notebooks;
//   - tracking: MLflow experiments and runs;
//   - registry: the workspace model registry, off unless
//     Options.LegacyRegistry, as on new accounts' workspaces;
//   - jobs: Jobs 2.2, whose runs simulate the project's training and
//     promotion tasks;
//   - unitycatalog: the metastore (catalogs, schemas, registered models,
//     versions, aliases, grants, tables), shared by the workspaces of one
//     StartWorkspaces, each answering as its own principal;
//   - serving: endpoints, invocations, version behaviours, the metrics
//     export and AI Gateway inference tables;
//   - sqlwarehouse: the workspace's SQL warehouse and the Statement
//     Execution API over the metastore's tables;
//
// with filter (MLflow search filters), agentmodel (the Go stand-in of the
// served model, which answers invocations by default) and traffic (client
// load in virtual time, for canary tests).
//
// Start builds the services and ties them with small interfaces: training
// registers a model through a registrar that Unity Catalog and the
// workspace registry both are, serving asks either whether a version may
// be served, and services.go sends a three-level model name
// (catalog.schema.model) to Unity Catalog and any other to the workspace
// registry, as MLflow does.
//
// Read options.go and server.go (Start, the gateway, settle), then
// services.go and state.go, then each service package's doc.
//
// # Scripting, faults, time and state
//
// ScriptNextRun, FailNextEndpointUpdate, FailNextRegistration,
// Metastore().FailNextRegistration and SetVersionBehavior script the
// services' state machines and a model version's answers (slow, flaky,
// wrong or undeployable). InjectFaults and AddFaultRule inject bounded
// gateway faults (429, 503, 500, slow responses, reset connections) per
// route or globally. Options.TimeScale sets the clock scale: 0 settles
// every state machine by the next read (tests), 0.01 turns a 5-minute
// update into 3 seconds (the demo), 1 is real time; a ManualClock steps
// time explicitly. Before SCIM Me and the routes of jobs, tracking, the
// workspace registry and serving (but for invocations and the metrics
// export, which settle only their endpoint), the server settles the state
// machines to now in the order their effects flow (job runs, registry
// versions, endpoint updates), so a read finds what a finished training
// run logged and registered. Options.StateFile persists the workspace as JSON so separate
// mage invocations share it, each service's part under its own keys.
// Requests and MutatingRequests return the request log (method, path,
// operation, status) for assertions such as "no mutating request
// happened".
//
// # Locks
//
// Each service has its own lock; the server holds none of them while it
// calls another (its own locks guard the request log, the fault rules and
// the state file). A service may call another while holding its lock, in
// this order only: jobs before tracking, the workspace registry and the
// metastore (a run's tasks log, register and promote); serving before the
// workspace registry and the metastore (the versions it serves, its
// payload tables); the workspace registry before tracking (a version's
// source run). core.Random's lock, the seeded generator every service
// draws ids from, is taken last. Package sqlwarehouse reads tables from
// the metastore before it takes its own lock, and a system table's rows
// come from each attached workspace, which the metastore asks without its
// own lock held; the workspace then settles and takes the serving store's.
package emulator
