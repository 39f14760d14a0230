// Package tracking is the emulator's MLflow tracking service: one
// workspace's experiments and MLflow runs (their params, metrics and tags,
// and the files of the models they logged), with its own lock, answering
// the /api/2.0/mlflow routes databricks-sdk-go calls (Routes): experiments
// create, get and get-by-name; runs create, get, search (MLflow filters,
// newest first, page tokens), set-tag and update; artifacts/list. The
// model registries are not here: the workspace registry is in package
// registry and Unity Catalog in package unitycatalog.
//
// The rest of the emulator reaches the store through a small API: the
// training task (package jobs) opens a run (StartRun), logs to it
// (LogBatch, LogModel) and ends it (EndRun); the workspace registry checks
// that a version's source run exists (RunExists) and logged a model where
// the source says (HasArtifacts); Run reads one for tests and the deploy
// stage's report. New restores what the state file held and Snapshot is
// what to write to it, under the keys "experiments" and "mlflow_runs".
//
// Experiment ids come from the workspace's id sequence (Options.IDs), run
// ids from its seeded generator (Options.Random), which registered models,
// endpoints and traffic routing draw from too, so a seed replays the same
// ids whichever service draws them.
//
// Lock order: the jobs store and the workspace registry may call the store
// while holding their own locks (a training run logs under the jobs
// store's); the store never calls another service. Its only other locks,
// the generator's and the clock's, are taken last.
package tracking
