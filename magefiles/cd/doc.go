// Package cd is the continuous delivery of the model: the flows behind
// `mage deploy:<env>`, `mage verify:<env>`, `mage plan <env>`,
// `mage status <env>`, `mage rollback <env>` and `mage unlock <env>`, for
// the environments dev, staging and prod (the targets of databricks.yml).
//
// # Flows
//
// A flow is an ordered slice of stages (DeployDev, DeployStaging,
// DeployProd, VerifyStages, RollbackStages); each stage is a small type
// with a Name and Run(ctx, *State). Flow.Run prints every stage with its
// time, turns a SkipError into a visible "skipped: reason", saves the
// release record's progress after each stage, and always runs the cleanups
// (the lock's release), also after a failure or Ctrl-C.
//
//	deploy:dev      config, inputs, release, connect, approve (skipped), lock, record, bundle, train, register, serve
//	deploy:staging  config, inputs, release, connect, source, approve, lock, record, bundle, train, register,
//	                promote, serve
//	deploy:prod     config, inputs, release, connect, source, approve, lock, record, backup, bundle, train,
//	                register, promote, canary, analysis, serve, smoke
//	verify:<env>    config, inputs, connect, find-release, verify
//	rollback <env>  config, inputs, connect, target, approve, lock, record, backup, rollback, smoke
//
// Nothing changes before every input is checked: the inputs stage
// (CheckInputs) checks, offline, what a flow would otherwise read only
// half way through (the deploy engine, yes/no settings such as APPROVE and
// CANARY_PROBES, the notification channels' settings, the canary plan, the
// verify cases and load thresholds) and reports every problem at once;
// with the config, release, connect, source and approve stages, all of it
// comes before the first lock, write, record or notification.
//
// In staging and prod, train and register run when the source environment
// is another workspace and promote when it is the same one; the others
// skip, saying why (see Promotion).
//
// # Production rollout
//
// deploy:prod changes the endpoint only through package rollout:
//
//   - backup: the endpoint's served config, the stable model version and the
//     record go to <root_path>/backups/prod/ in the workspace and
//     artifacts/backups/prod/ (environment values masked). No backup, no
//     deploy; a resumed run keeps the backup of the endpoint as it was.
//   - canary: the candidate next to the stable version at
//     canary_traffic_percent, READY. An endpoint that serves nothing yet
//     (the first release) is skipped here and served directly by serve.
//   - analysis: every analysis_interval the metrics export is read and the
//     candidate judged against stable (rollout/judge), each minute's
//     numbers printed; the judge promotes, or aborts a worse candidate or
//     one with too little traffic: stable back at
//     100%, the candidate removed, the record aborted with the evidence
//     (attachments "canary" and "abort"), a non-zero exit. CANARY_PROBES=1
//     (or Options.Canary.Probes) adds bounded probe traffic so an endpoint
//     with few clients still gets a verdict. The lock is refreshed every
//     Options.LockRefresh; a lock broken meanwhile stops the rollout where it
//     is (stable still routed).
//   - serve: the candidate at 100%, the old entity removed, READY.
//   - smoke: the smoke cases; the record becomes stable (verify:prod later
//     makes it verified). A failure leaves the new version serving and says
//     to run `mage rollback prod`.
//
// The three rollout stages are one rollout.Canary run split with
// Canary.Until, its checkpoint kept in the record after every step, so a
// run killed after any stage resumes without repeating an update or an
// interval, and the endpoint routes traffic to a healthy version throughout.
//
// # Rollback
//
// `mage rollback <env>` works from the workspace alone (journal, registry,
// endpoint), so it runs from a fresh checkout. The target is a release tag
// (-to), a model version (-version), or by default the last stable release,
// decided from what the endpoint serves and the journal together: when the
// endpoint does not serve the last stable release alone (a rollout whose
// smoke tests or verify failed, a canary left half way), it comes back;
// when it does (a deploy that failed or was refused before the endpoint,
// an aborted canary, one killed before its canary, or no deploy since),
// the default has nothing to do, says so, names the stable release before
// it for -to, and exits 0. `rollback -check` answers the same question
// without changing anything (rollback_needed=true|false in
// $GITHUB_OUTPUT), so the CD workflow's rollback job runs only when
// needed. A release or version that does not exist, or no stable release
// at all, is refused before anything changes.
// Then: approval, lock, a KindRollback record, a backup, the target alone
// at 100% (READY), smoke tests; the replaced release's record becomes
// rolled_back. `mage unlock <env>` shows a lock's holder and removes it
// once confirmed.
//
// # Notifications
//
// Every deploy announces itself once it holds its lock and record
// (deploy started) and its end (succeeded, failed, or canary aborted); a
// rollback announces its end (rollback done or failed, resolving the
// incident of the release it answers). Channels come from the environment
// (package notify: SLACK_WEBHOOK_URL, PAGERDUTY_ROUTING_KEY, SMTP_*) or
// Options.Notifier; what each did is printed, and a failing channel never
// fails a run. Refusals before the lock change nothing and only print.
//
// Everything that can be checked without changing the workspace is checked
// first: the environment name, the bundle target, the release tag (semver;
// prod: a stable tag whose commit is on main), the workspace host against
// the credentials, the credentials themselves, the promotion source and the
// approval. A refusal at any of them leaves the workspace untouched.
//
// # Inputs
//
// Environment variables:
//
//	DATABRICKS_TOKEN, or DATABRICKS_CLIENT_ID + DATABRICKS_CLIENT_SECRET,
//	or DATABRICKS_CLIENT_ID with GitHub OIDC, or DATABRICKS_CONFIG_PROFILE
//	                       credentials, through the SDK's unified auth
//	DATABRICKS_HOST        optional; when set it must be the target's workspace.host
//	<NAME>_<ENV>           e.g. DATABRICKS_TOKEN_DEV: read before <NAME> for that
//	                       environment's workspace. deploy:staging needs staging's and
//	                       dev's (dev's to read its records), deploy:prod prod's and
//	                       staging's; the other targets their environment's only
//	DEPLOY_ENGINE          sdk, cli or auto (default: the CLI when on PATH, else sdk)
//	APPROVE=1              approval for staging/prod, like -yes
//	DEPLOY_ENVIRONMENT     in GitHub Actions: the job's environment (staging,
//	                       production), whose protection rules are the approval
//	CANARY_PROBES=1        probe traffic during the canary analysis
//	SLACK_WEBHOOK_URL, PAGERDUTY_ROUTING_KEY, SMTP_HOST, ...
//	                       notification channels (package notify)
//	CD_TEST_EXIT_AFTER_STAGE=<stage>
//	                       test hook: exit (status 3) right after that stage, as if
//	                       killed: lock and in-progress record are left behind
//
// Bundle variables (databricks.yml): model_name and endpoint_name per
// target, workload_size and scale_to_zero for the served entity, the
// rollout policy (canary_traffic_percent, analysis_interval,
// analysis_count, failure_limit, inconclusive_limit, max_error_rate,
// error_rate_margin, max_latency_ratio, min_requests) for deploy:prod, and
// the load test (load_concurrency, load_duration, load_max_p95_ms,
// load_max_error_rate, load_min_rps) for verify.
//
// # Workspace layout
//
// Per target, under workspace.root_path: files/src/ (the uploaded code),
// state/sdk-deployment.json (the sdk engine's record of what it deployed),
// state/deploy-<env>.lock.json (the lock), releases/<env>/<id>.json (the
// journal, one release record per deploy or rollback, copied to
// artifacts/releases/<env>/) and backups/<env>/<time>-<release>.json (the
// endpoint backups, copied masked to artifacts/backups/<env>/).
//
// # Promotion
//
// Staging promotes a release only once dev's record of it is verified and
// made from the same commit; prod only once staging's is. LoadSource reads
// that record with the source environment's client (its <NAME>_<ENV>
// credentials when it is another workspace) and chooses the route
// (RouteCopy or RouteTrain), which the record keeps (model.source.route)
// and plan shows.
//
// Within one workspace (the same host, or hosts with the same workspace
// id) the exact version the source verified is copied into this
// environment's model. The copy carries lineage tags (source_env,
// source_model, source_version, source_record) and the release tags
// (release, git_sha, target, job_run_id); a re-run finds the copy by its
// tags instead of making another; the train and register stages skip.
//
// In another workspace a copy cannot work: a workspace registry's version
// points at an MLflow run of its own workspace. The deploy then follows the
// "deploy code" pattern (Databricks documentation, "Model deployment
// patterns"): the train and register stages run this environment's training
// job at the release's commit and register the result in its own
// workspace, tagged source_env, source_record and promotion_route=train;
// the promote stage skips. The output says why ("<env> is another
// workspace: workspace-registry versions cannot cross workspaces; training
// release vX in <env> from the same commit"). A re-run of the same release
// serves the version it trained before. A target there that cannot train
// (no training job, or several) is refused by the source stage before
// anything changes (CrossWorkspaceError), naming both workspaces and what
// to do instead.
//
// # Re-runs
//
// Every stage is safe to run again: the bundle deploy updates what its
// record names (or adopts a job found by name), a run-now carries an
// idempotency token keyed by the step and the number of its runs that
// failed before (a killed deploy finds its run again, a failed run is
// retried by a new one; the record's job_runs lists them), registration
// and promotion find earlier READY versions and delete the unfinished ones
// a died run left (MLflow finalizes a Unity Catalog version before
// create_model_version returns; nothing else does),
// serving skips an endpoint that already serves the version, and the
// production rollout resumes from its checkpoint and the live endpoint. A deploy of
// the same release that was interrupted or failed resumes its record; a
// lock whose holder is provably gone (an earlier attempt of the same CI
// run, or a dead process on this machine) is taken over.
package cd
