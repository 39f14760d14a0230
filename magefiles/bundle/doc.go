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
//     once). Every value keeps its file, line and column (package dyn).
//  2. Check the whole tree, every target included, against the schema: the
//     bundle sections and the SDK's request types (jobs.JobSettings,
//     serving.CreateServingEndpoint, ml.CreateModelRequest,
//     catalog.CreateRegisteredModelRequest, ml.Experiment), by walking the
//     YAML against their json tags. Unknown fields get a "did you mean".
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
//     not unpause triggers; a cluster_id (or compute_id) runs every task on
//     that cluster. production: the target itself must set
//     workspace.root_path. Any mode but development: no cluster_id override.
//  7. Rewrite local task files (spark_python_task.python_file,
//     notebook_task.notebook_path, library whl/jar/requirements) to paths
//     under workspace.file_path, checking they exist inside the bundle.
//     Apply presets to resources (serving endpoints and Unity Catalog
//     models get the prefix normalized to dev_<user>_), top-level run_as to
//     jobs, then resolve ${resources.<type>.<key>.<field>}.
//  8. Decode resources strictly into the SDK's types (explicit zero values
//     go to ForceSendFields), check what the API would reject (serving
//     traffic routes must name served entities and sum to 100, task and
//     cluster references, names), and read the rollout and load-test
//     policies from the variables.
//
// Every independent problem is reported in one run: a phase that finds an
// error does not stop the load (unless the files could not be read or no
// target could be picked), but what later phases find at a configuration
// path that already has an error, or in a value whose references could not
// be resolved because of one, is a consequence and dropped; so are their
// warnings. Two targets marked default are an error for every command,
// whichever target it names. A value may expand to at most
// MaxExpandedBytes (64 KiB); references that repeat one another (v1:
// ${var.v0}${var.v0}, v2: ${var.v1}${var.v1}, …) are an error naming the
// variable, not an exhausted memory. A target may only override resources
// the bundle defines at the top level: a key it does not define
// (train_modle for train_model) is an error with a did-you-mean, where the
// CLI would silently define a second, half-configured resource.
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
// # Differences from the Databricks CLI
//
//   - Unknown fields and wrong types are errors here; the CLI warns and
//     drops the value, which silently changes what gets deployed.
//   - Missing required fields (json tags without omitempty in the SDK
//     types) are errors; the CLI warns.
//   - A target's job tasks (job clusters, parameters, environments) merge
//     into the top-level ones by key, but a key written twice in one
//     definition is an error; the CLI merges those silently too.
//   - An include glob that matches nothing is a warning and a missing
//     literal include path is an error; the CLI treats both as errors.
//   - Only jobs, models, registered_models, experiments and
//     model_serving_endpoints are modelled; other CLI resource types are
//     reported as unsupported. Top-level permissions are kept as written
//     (Bundle.Permissions), not mapped onto each resource's levels.
//   - Variable lookups need a workspace and are an error; give the value
//     with a default, --var or BUNDLE_VAR_<name>.
//   - The current user is asked for only when needed (development mode, a
//     root path under ~, ${workspace.current_user.*}). With neither
//     LoadOptions.CurrentUser nor LookupUser, OfflineUser stands in, and
//     the run_as-versus-serving-endpoint check is skipped.
//   - ${resources.*.id} (and url, endpoint_id) stay in the configuration
//     for the deploy engine; other ${resources.*} fields resolve from the
//     configuration after presets, so they see prefixed names.
//   - A served entity without a name is called <entity_name>-<entity_version>
//     (dots replaced by dashes) when checking traffic routes.
//   - Experiments must have absolute workspace paths as names.
//   - Artifacts (wheel builds), sync rules and Python-defined resources are
//     read but not acted on.
package bundle
