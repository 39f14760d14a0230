// Package bundle reads a Databricks Asset Bundle (databricks.yml and the
// files it includes) the way the Databricks CLI does, offline and in
// milliseconds, and reports every problem with its file:line:col.
//
// # Using it
//
//	b, diags := bundle.Load(root, bundle.LoadOptions{Target: "prod", LookupEnv: os.LookupEnv})
//	if diags.HasError() {
//		diags.WriteText(os.Stderr, diag.TextOptions{})
//		return diags.Err()
//	}
//	ep := b.ServingEndpoints["human_interrupt_endpoint"].Request // *serving.CreateServingEndpoint
//	policy := b.Rollout                                          // canary settings from the variables
//
// ValidateAll (or Check with Target "all") validates every target, which is
// what CI runs: a broken prod target fails even when only dev is used.
//
// # What a load does, in order
//
//  1. Read databricks.yml and expand include: globs (sorted, each file
//     once; paths may lead out of the root, as in the CLI). Every value
//     keeps its file, line and column (package dyn).
//  2. Rewrite the CLI's old spellings (environments:, compute_id), then
//     check the whole tree, every target included, against the schema:
//     every section of the CLI's config.Root and every resource type,
//     each as the SDK type the CLI embeds (kinds.go), by walking the YAML
//     against their json tags. Unknown fields (with a "did you mean") and
//     wrong types are warnings and left out of the tree, as the CLI's
//     normalization does; keys that only hold YAML anchors are silent.
//  3. Select the target (named, default: true, or the only one) and merge
//     its overrides over the top level: maps by key, sequences appended,
//     then job tasks, job clusters, parameters and environments merged by
//     their keys. Variables are overridden by value.
//  4. Define workspace paths (root_path defaults to
//     ~/.bundle/${bundle.name}/${bundle.target}, ~ is the user's home under
//     /Workspace/Users), the current user (only when something needs it)
//     and each variable's value: --var, then BUNDLE_VAR_<name>, then the
//     target's override, then the default.
//  5. Interpolate ${var.x}, ${bundle.*}, ${workspace.*} and any other
//     configuration path. A string that is exactly one reference takes the
//     referenced value's type. References nest; cycles, undefined variables
//     and unknown sections are errors at the reference.
//  6. Apply the mode. development: "[dev <short name>] " name prefix, a dev
//     tag, at most 4 concurrent runs, paused schedules and triggers, no
//     deployment lock; paths and the prefix must be per user; presets may
//     not unpause triggers. production: the target itself must set
//     workspace.root_path (see below), no pipeline may be in development,
//     and a cluster override is a warning. In any mode a cluster_id (or
//     compute_id) runs every task on that cluster, as in the CLI.
//  7. Rewrite local task files (spark_python_task.python_file,
//     notebook_task.notebook_path, library whl/jar/requirements) to paths
//     under workspace.file_path, checking that task files and requirements
//     exist inside the bundle (wheels and jars may be built on deploy).
//     Apply presets to resources (serving endpoints and Unity Catalog
//     models get the prefix normalized to dev_<user>_), top-level run_as to
//     jobs, then resolve ${resources.<type>.<key>.<field>}.
//  8. Decode resources into the SDK's types (explicit zero values go to
//     ForceSendFields; every other type is kept as written in
//     Bundle.Others), check what the API or the CLI would reject (serving
//     traffic routes must name served entities and sum to 100, task and
//     cluster references, names, the settings the CLI requires as errors),
//     and read the rollout and load-test policies from the variables.
//
// Every independent problem is reported in one run: a phase that finds an
// error does not stop the load (unless the files could not be read or no
// target could be picked), but what later phases find at a configuration
// path that already has an error, or in a value whose references could not
// be resolved because of one, is a consequence and dropped; so are their
// warnings. Two targets marked default are an error when no target is
// named. A value may expand to at most
// MaxExpandedBytes (64 KiB); references that repeat one another (v1:
// ${var.v0}${var.v0}, v2: ${var.v1}${var.v1}, …) are an error naming the
// variable, not an exhausted memory. A resource only a target defines is
// that target's, as in the CLI; one whose key is close to a top-level key
// (train_modle for train_model) is a warning with a did-you-mean.
//
// # Resources and the model registry
//
// The registry is chosen by the resource the bundle declares:
// resources.registered_models (catalog.CreateRegisteredModelRequest plus
// grants and lifecycle, as in the CLI's schema) is Unity Catalog,
// resources.models (ml.CreateModelRequest) the workspace model registry.
// Bundle.RegistryModel says which one a target uses and gives the model's
// full name (catalog.schema.name in lowercase for Unity Catalog) and the
// champion and challenger alias names. Checked for Unity Catalog models:
// catalog_name, schema_name and name present and without the characters
// Unity Catalog refuses (period, space, slash, control characters; at most
// 255 characters), a warning for capitals (stored in lowercase), full_name
// if written, grants with a principal and the SDK's privileges, and a
// warning for aliases written in the bundle (the deploy moves aliases).
// One model in both registries (the same key, or the same name) is an
// error. The alias variables champion_alias and challenger_alias, when
// declared, must be alias names (letters, digits, underscores; not latest
// or v<number>, which MLflow reserves) and differ. Development mode
// prefixes Unity Catalog names with dev_<user>_, so jobs and endpoints
// should name the model through ${resources.registered_models.<key>.*}.
//
// # Severities and differences from the Databricks CLI
//
// What the CLI warns about is a warning, what it refuses an error:
// unknown fields, wrong types, values outside an enum and missing
// required fields are warnings (CheckOptions.Strict makes warnings
// errors, as bundle validate --strict does). Where this loader differs,
// on purpose:
//
//   - A target resource whose key is close to a top-level key is a
//     warning; the CLI says nothing.
//   - mode: production without the target's root_path is a warning while
//     the deploying identity is unknown (offline), an error for a user and
//     a recommendation for a service principal.
//   - Variable lookups need a workspace: without LoadOptions.Lookup they
//     are a warning, their references stay unresolved and
//     Bundle.PendingLookups lists them.
//   - python: resources and mutators are not run (a warning); Bundle.
//     PythonFunctions names them.
//   - A job without tasks, an endpoint with several entities and no
//     traffic_config, and an include glob that matches nothing are
//     recommendations (never a failure).
//   - Task files must lie inside the bundle root; wheel and jar libraries
//     are not checked, since an artifacts: build may make them.
//   - The current user is asked for only when needed (development mode, a
//     root path under ~, ${workspace.current_user.*}). With neither
//     LoadOptions.CurrentUser nor LookupUser, OfflineUser stands in, and
//     the run_as-versus-owner check is skipped.
//   - ${resources.*.id} (and url, endpoint_id) stay in the configuration
//     for the deploy engine; other ${resources.*} fields resolve from the
//     configuration after presets, so they see prefixed names.
//   - A served entity without a name is called <entity_name>-<entity_version>
//     (dots replaced by dashes) when checking traffic routes.
//   - Experiments must have absolute workspace paths as names.
//   - Top-level permissions are kept as written (Bundle.Permissions), not
//     mapped onto each resource's levels.
package bundle
