// Package cd is the continuous delivery of the model: the flows behind
// `mage deploy:<env>`, `mage verify:<env>`, `mage validate <env>`,
// `mage plan <env>`, `mage status <env>`, `mage rollback <env>`,
// `mage unlock <env>` and `mage report`, for the environments dev, staging
// and prod (the targets of databricks.yml).
//
// # Reading order
//
//  1. flows.go: each flow is an ordered list of stages, one comment a line;
//     DeployProd is deploy:prod's. stage.go runs a list (Flow.Run).
//  2. state.go: State, what one run knows and the stages share; EnvConfig,
//     what the stages need of one bundle target.
//  3. environment.go: Environment, how dev, staging and prod differ (where
//     a version comes from, approval, release rules, canary, what success
//     records). The stages ask it; nothing compares environment names.
//  4. registry.go: ModelRegistry, where the model's versions live. Connect
//     opens the one the target declares: unityCatalog (unitycatalog.go,
//     unitycatalog_release.go) or workspaceRegistry (workspaceregistry.go).
//     Registering, finding the version a release verified, promoting,
//     moving aliases and describing the model for plan and status go
//     through it; nothing asks which one it is.
//  5. The stages, in flow order: stages_setup.go (config, release, connect,
//     catalog, source, lock), approve.go, record.go (the release record),
//     stages_deploy.go (bundle, train, register, promote), serve.go,
//     stages_prod.go (backup, canary, analysis, smoke), verify.go,
//     validate.go, rollback.go.
//
// Aliases exist in Unity Catalog only. @champion and @challenger are moved
// in one place, unityCatalog.MoveAliases, to follow what the endpoint
// serves (after serve, canary, analysis, an abort and a rollback); a
// release's alias (release_<tag>) is set by unityCatalog's Register and
// Promote, which prune the oldest beyond KeptReleaseAliases. Rollback
// chooses its target in chooseRollback (rollback.go), from the journal and
// the endpoint alone.
//
// # Flows
//
// Flow.Run prints every stage with its time, turns a SkipError into a
// visible "skipped: reason", saves the release record after each stage and
// always runs the cleanups (the lock's release), also after a failure or
// Ctrl-C. Stage names label output, records and CD_TEST_EXIT_AFTER_STAGE;
// every deploy ends with "serve" (Serve; deploy:prod's finishes the canary)
// and every deploy or rollback opens its "record" (BeginRecord). A deploy
// announces itself once it holds its lock and record, and its end; a
// rollback its end (package notify's channels, or Options.Notifier).
//
//	deploy:dev      config, inputs, release, connect, catalog, plan, approve (skipped), lock, record, bundle,
//	                train, register, serve
//	deploy:staging  config, inputs, release, connect, catalog, source, plan, approve, lock, record, bundle,
//	                train, register, promote, serve
//	deploy:prod     config, inputs, release, connect, catalog, source, validation, plan, approve, lock, record,
//	                backup, bundle, train, register, promote, canary, analysis, serve, smoke
//	verify:<env>    config, inputs, connect, find-release, verify
//	validate <env>  config, release, connect, source, validate
//	rollback <env>  config, inputs, connect, target, approve, lock, record, backup, rollback, smoke
//
// Everything that can be checked without changing the workspace comes
// before the lock: the inputs (CheckInputs: engine, yes/no settings,
// notification channels, canary plan, verify cases, all reported at once),
// the release tag (production: a stable tag whose commit is on main), the
// workspace and its credentials, the catalog, the promotion source, the
// validation verdict, a saved plan (-plan=FILE) and the approval. A refusal
// there leaves the workspace untouched.
//
// # Promotion
//
// Staging takes the release dev verified, prod the one staging verified
// (same commit). LoadSource reads the source environment's record with its
// own credentials and the registry chooses the route, which the record
// keeps: RouteUCCopy (Unity Catalog: the target's promote job copies the
// version through the shared metastore), RouteCopy (workspace registry, one
// workspace: the version is copied with lineage tags) or RouteTrain
// (workspace registry, another workspace: the release is trained again from
// the same commit, the "deploy code" pattern; a target that cannot train is
// refused, CrossWorkspaceError).
//
// # Production rollout
//
// deploy:prod changes the endpoint only through package rollout: backup
// (the endpoint's config, the stable version and the record, to the
// workspace and artifacts/backups/prod/; no backup, no deploy), canary (the
// candidate next to stable at canary_traffic_percent; a first release,
// with nothing to compare against, is served directly), analysis (every
// analysis_interval the metrics export is read and package rollout/judge
// decides, candidate against stable: promote on evidence or at
// canary_max_duration, abort when it is worse or has too little traffic,
// or when an update fails; an abort puts stable back at 100% and the record
// is aborted with its evidence), serve (the candidate alone at 100%) and
// smoke (a finished deploy:prod records the release stable). Canary,
// analysis and serve are one rollout.Canary run split with Canary.Until,
// its checkpoint kept in the record, so a killed run resumes without
// repeating an update or an interval. CANARY_PROBES=1 adds bounded probe
// traffic; the lock is refreshed every Options.LockRefresh.
//
// # Rollback
//
// `mage rollback <env>` works from the workspace alone (journal, registry,
// endpoint). The target is a release (-to), a model version (-version) or
// by default the last stable release; when the endpoint already serves
// that alone the rollback has nothing to do, says so and names the stable
// release before it. `rollback -check` answers without changing anything
// (rollback_needed in $GITHUB_OUTPUT). Then approval, lock, a KindRollback
// record, a backup, the target alone at 100% and smoke tests; the replaced
// release's record becomes rolled_back.
//
// # Re-runs
//
// Every stage is safe to run again: the bundle deploy updates what its
// record names, a job run carries an idempotency token keyed by the step
// and its failed runs (JobAttempt), the registry finds the version or copy
// an earlier attempt made and deletes unfinished Unity Catalog versions a
// dead run left, serve skips an endpoint that already serves the version,
// and the rollout resumes from its checkpoint. A deploy of the same release
// resumes its record; a lock whose holder is provably gone (an earlier
// attempt of the same CI run, a dead process on this machine) is taken
// over, and `mage unlock <env>` removes one after confirmation.
//
// # Inputs
//
// Environment variables:
//
//	DATABRICKS_TOKEN, DATABRICKS_CLIENT_ID/_SECRET, GitHub OIDC or DATABRICKS_CONFIG_PROFILE
//	                       credentials, through the SDK's unified auth
//	DATABRICKS_HOST        optional; when set it must be the target's workspace.host
//	<NAME>_<ENV>           read before <NAME> for that environment's workspace (a
//	                       promotion reads its source environment's records with them)
//	DEPLOY_ENGINE          sdk, cli or auto (default: the CLI when on PATH, else sdk)
//	APPROVE=1              approval, like -yes
//	DEPLOY_ENVIRONMENT     in GitHub Actions: the job's environment, whose protection
//	                       rules are the approval
//	CANARY_PROBES=1        probe traffic during the canary analysis
//	SLACK_WEBHOOK_URL, PAGERDUTY_ROUTING_KEY, SMTP_*
//	                       notification channels (package notify); a failing channel
//	                       never fails a run
//	CD_TEST_EXIT_AFTER_STAGE=<stage>
//	                       test hook: exit (status 3) right after that stage, as if
//	                       killed: lock and in-progress record are left behind
//
// Bundle variables (databricks.yml, package bundle): model_name,
// endpoint_name, workload_size and scale_to_zero per target; the rollout
// policy (canary_traffic_percent, analysis_interval, canary_alpha,
// canary_max_error_ratio, canary_max_duration, min_requests); the load test
// (load_concurrency, load_duration, load_max_p95_ms, load_max_error_rate,
// load_min_rps); the validation gate (validation_min_interrupt_recall,
// validation_shadow_requests, validation_warehouse_id).
//
// Per target, under workspace.root_path: files/src/ (the uploaded code),
// state/ (the sdk engine's deployment record, the lock
// deploy-<env>.lock.json), releases/<env>/<id>.json (the journal, mirrored
// to artifacts/releases/<env>/) and backups/<env>/ (mirrored, masked, to
// artifacts/backups/<env>/).
package cd
