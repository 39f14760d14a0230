// Package jobs is the emulator's Jobs API 2.2: one workspace's jobs and
// their runs, with its own lock, answering the routes databricks-sdk-go
// calls (Routes): create, reset, update, get, list (name filter, pages),
// delete, run-now (idempotency token), runs/get, runs/get-output (per task
// run), runs/list and runs/cancel. A missing job or run is 400
// INVALID_PARAMETER_VALUE, which the SDK remaps to not-found for jobs/get
// and runs/get only, as for the service.
//
// A run's phase follows from the clock (runs.go): PENDING for
// Options.Pending, RUNNING for Options.RunFor (or its scripted duration),
// then TERMINATED with SUCCESS, FAILED or CANCELED. A run over
// max_concurrent_runs is QUEUED behind the active ones, as Jobs API 2.2
// queues by default, or SKIPPED with queue.enabled false. ScriptNextRun
// scripts how the next runs of a job end.
//
// A run's tasks act on the rest of the workspace as the project's Python
// tasks do, through three small interfaces the workspace wires in:
//
//   - the training task (training.go) logs an MLflow run with the model at
//     runs:/<run_id>/agent (ModelArtifactPath) to Options.Tracking,
//     registers it under --model-name through Options.Models (a Registrar,
//     which both the workspace model registry and Unity Catalog are) and
//     prints the training report the deploy stage reads from
//     runs/get-output;
//   - the promotion job's copy task (promotion.go) copies a Unity Catalog
//     version into the target model once and sets the release alias on it,
//     through Options.Promoter (the shared metastore).
//
// Those effects happen as a run passes each point of its life, whenever
// the store moves its runs to now: on each of its routes, and when the
// workspace settles its state machines (Advance) before the routes of the
// services that show them.
//
// Job, run and task run ids come from the workspace's id sequence
// (Options.IDs). New restores what the state file held (State) and
// MarshalState encodes it, under the keys "jobs", "job_runs",
// "task_runs", "idempotency_tokens" and "run_scripts".
//
// Lock order: the store holds its lock while a task calls tracking, the
// workspace registry or the metastore, each of which has its own lock and
// never calls back. Read store.go, routes.go, runs.go, then training.go and
// promotion.go.
package jobs
