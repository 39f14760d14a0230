// Package cd is the continuous delivery of the model: the flows behind
// `mage deploy:<env>`, `mage verify:<env>`, `mage plan <env>` and
// `mage status <env>`, for the environments dev, staging and prod (the
// targets of databricks.yml).
//
// # Flows
//
// A flow is an ordered slice of stages (DeployDev, DeployStaging,
// DeployProd, VerifyStages); each stage is a small type with a Name and
// Run(ctx, *State). Flow.Run prints every stage with its time, turns a
// SkipError into a visible "skipped: reason", saves the release record's
// progress after each stage, and always runs the cleanups (the lock's
// release), also after a failure or Ctrl-C.
//
//	deploy:dev      config, release, connect, approve (skipped), lock, record, bundle, train, register, serve
//	deploy:staging  config, release, connect, source, approve, lock, record, bundle, promote, serve
//	deploy:prod     config, release, connect, source, approve, lock, record, bundle, promote, serve
//	verify:<env>    config, connect, find-release, verify
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
//	                       environment's workspace (a promotion source in another workspace)
//	DEPLOY_ENGINE          sdk, cli or auto (default: the CLI when on PATH, else sdk)
//	APPROVE=1              approval for staging/prod, like -yes
//	DEPLOY_ENVIRONMENT     in GitHub Actions: the job's environment (staging,
//	                       production), whose protection rules are the approval
//	CD_TEST_EXIT_AFTER_STAGE=<stage>
//	                       test hook: exit (status 3) right after that stage, as if
//	                       killed: lock and in-progress record are left behind
//
// Bundle variables (databricks.yml): model_name and endpoint_name per
// target, workload_size and scale_to_zero for the served entity, and the
// load test (load_concurrency, load_duration, load_max_p95_ms,
// load_max_error_rate, load_min_rps) for verify.
//
// # Workspace layout
//
// Per target, under workspace.root_path: files/src/ (the uploaded code),
// state/sdk-deployment.json (the sdk engine's record of what it deployed),
// state/deploy-<env>.lock.json (the lock) and releases/<env>/<id>.json (the
// journal, one release record per deploy, copied to
// artifacts/releases/<env>/).
//
// # Promotion
//
// Staging copies the exact model version dev verified for the release (the
// dev record must be verified and made from the same commit), prod the one
// staging verified. The copy carries lineage tags (source_env,
// source_model, source_version, source_record) and the release tags
// (release, git_sha, target, job_run_id); a re-run finds the copy by its
// tags instead of making another. A promotion source in another workspace
// needs credentials for it (<NAME>_<ENV>), and an artifact location both
// workspaces can read: the workspace registry cannot reach another
// workspace's run artifacts.
//
// # Re-runs
//
// Every stage is safe to run again: the bundle deploy updates what its
// record names (or adopts a job found by name), a run-now carries an
// idempotency token, registration and promotion find earlier versions,
// serving skips an endpoint that already serves the version. A deploy of
// the same release that was interrupted or failed resumes its record; a
// lock whose holder is provably gone (an earlier attempt of the same CI
// run, or a dead process on this machine) is taken over.
package cd
