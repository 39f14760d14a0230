// Package serving is the emulator's model serving: one workspace's
// serving endpoints, the behaviours of the model versions they serve and
// what their invocations left, with its own lock, answering the routes
// databricks-sdk-go calls (Routes): endpoints create, get, list, delete,
// update-config, patch tags, put ai-gateway, build-logs and server logs,
// the metrics export and invocations.
//
// A config update (endpoints.go) is IN_PROGRESS for Options.Update when it
// deploys new served entities, or Options.TrafficUpdate when it only moves
// traffic, while the previous config keeps serving; it then serves, or
// ends UPDATE_FAILED when scripted (FailNextUpdate) or when a new entity's
// version has a Behavior.BuildFailure. Configs are validated as the service
// validates them (contract.go): routes name served entities and sum to
// 100, one update at a time, at most 15 entities, scale_to_zero_enabled
// sent. Served entities name a workspace-registry model or a Unity Catalog
// model (catalog.schema.model) and version, which must be READY: the store
// asks Options.Versions, which the workspace routes to either registry.
//
// Invocations (invocations.go) are routed by the traffic percentages,
// answered by the served version's Behavior (behavior.go; by default the
// Go stand-in of the served Python model in package agentmodel) and carry
// the served-model-name header. A version whose model raises answers 400
// BAD_REQUEST with the MLflow scoring server's message, as the service
// does; 5xx come only from injected platform faults. Each answer is
// counted per served entity, in total and per minute of service time, and
// the metrics export (metrics.go) renders the counts as Prometheus text in
// the shape Options.Metrics selects.
//
// Inference tables (inferencetables.go) are AI Gateway's: an endpoint's
// ai_gateway.inference_table_config creates
// <catalog>.<schema>.<prefix>_payload in Options.Tables (the metastore),
// and every invocation appends one row (PayloadColumns) before it is
// answered, naming the served entity that answered by its
// served_entity_id. ServedEntityRows are this workspace's rows of the
// system table ServedEntitiesTable, which maps those ids to models and
// versions.
//
// Endpoint ids, traffic routing and behaviour draws come from the
// workspace's seeded generator (Options.Random). New restores what the
// state file held (State) and MarshalState encodes it, under the keys
// "serving_endpoints", "served_entities", "version_behaviors" and
// "endpoint_failures"; Behavior.Predict functions live in memory only.
//
// Lock order: the store holds its lock while it asks Options.Versions (the
// registries) and while it creates a payload table; it appends a payload
// row after releasing it, and the metastore reads the system table's rows
// without holding its own. Read store.go, endpoints.go, contract.go, invocations.go,
// behavior.go, metrics.go, then inferencetables.go.
package serving
