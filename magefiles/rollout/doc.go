// Package rollout changes what a production serving endpoint serves, and
// only this package does: it backs the endpoint's config up before a
// change, rolls a candidate model version out as a canary judged by the
// endpoint's own metrics, promotes or aborts it, and rolls back.
//
// I/O stays at the edges. The analysis of an interval and the fold of
// intervals into continue, promote or abort are pure functions in
// rollout/analysis; the configs the rollout sends are pure functions here
// (config.go); the loop (canary.go) only walks the plan's steps, reading the
// endpoint and the metrics export through the SDK's serving API
// (w.ServingEndpoints satisfies Endpoints) and waiting through a Clock.
//
// # Plan
//
// PlanFromPolicy turns the bundle's rollout variables into
//
//	setWeight(canary_traffic_percent)             default 10
//	analyze(analysis_interval, analysis_count)    default 60s, 3
//	promote
//
// with the analysis thresholds (max_error_rate, error_rate_margin,
// max_latency_ratio, min_requests) and limits (failure_limit,
// inconclusive_limit; consecutive unmeasurable intervals abort at 3).
// Longer step lists (10% then 50%) work the same way; Validate insists that
// every weight is analyzed before traffic moves on and that promote comes
// last. WithProbes adds probe traffic sized so that each interval sends the
// candidate twice min_requests even when no client calls the endpoint.
//
// # Canary
//
// Canary.Run walks the steps:
//
//   - setWeight(n): one UpdateConfig serving the stable and the candidate
//     side by side under distinct served entity names, the candidate at n%
//     and stable at 100-n%, then the SDK's NOT_UPDATING waiter and a READY
//     poll. The stable entity's spec is copied from the live config, so it
//     is not redeployed.
//   - analyze: every interval (slept through the Clock, sending probes when
//     the plan has them) the metrics export is read with the SDK and parsed
//     by servingmetrics; each new minute, candidate against stable, goes to
//     judge.Observe, and judge.Decide says continue, promote, abort or
//     insufficient traffic. Each minute is reported to the Progress
//     callback as it is judged. A read that fails is retried at the next
//     interval; several failed reads in a row abort.
//   - promote: one update serving the candidate alone at 100% (the old
//     entity's spec stays in the backup), then READY.
//
// An abort (the decision, or any update that fails, promotion included)
// sends one update serving stable alone at 100%, retrying it (it is the
// step that must not give up), and returns an *AbortError carrying the
// reason, the decision and every interval's evidence. AbortError.Why says
// which cause it was (AbortCause: candidate judged worse, insufficient
// traffic, platform error, operator interrupt, timeout); only the first is
// a verdict on the candidate. An export whose series name no served entity
// cannot attribute requests, and the analysis stops with insufficient
// traffic rather than judge them.
//
// Safety: no config the rollout sends leaves the stable version without
// traffic until the candidate has passed and is promoted, and every step
// looks at the endpoint before acting, so it is idempotent. Run resumes from
// what the endpoint serves: a candidate already at the step's weight is
// analyzed without another update, a candidate already at 100% is only
// tidied up. The Progress callback hands out a Checkpoint to store in the
// release record; passed back as Canary.Resume after a crash it also keeps
// the intervals judged so far and finishes an abort or a promotion that
// was already decided. A cancelled context stops promptly and leaves the
// endpoint as it was: stable still routed, ready to resume.
//
// Canary.Until splits one rollout into steps a caller can run (and be
// killed between) separately: StageCanary returns ErrPaused once the
// candidate serves at its weight, StagePromoting once the analysis decided
// to promote; the next Run with the checkpoint as Resume goes on from
// there. deploy:prod's canary, analysis and serve stages are such runs.
// An abort is always carried through.
//
// # Backups and rollback
//
// Backups.Take snapshots the endpoint (served entities with their compute
// settings, traffic, tags, state) with the caller's context (the stable
// model version, the release record) into the workspace, through any
// release.Store (workspace.Files), and a copy under artifacts/ whose plain
// environment variable values are masked. It is an error when either
// cannot be written: no backup, no deploy. RestoreConfig puts a backup's
// config back; RollbackTo serves one named version at 100%;
// PreviewRollback says what that would change without changing anything.
//
// # How deploy:prod calls it
//
//	bs := &rollout.Backups{Env: "prod", Store: workspace.Files{API: w.Workspace}, Dir: rootPath + "/backups/prod",
//		Local: release.DirStore{Dir: artifactsDir}, LocalDir: "backups/prod"}
//	_, path, err := bs.Take(ctx, w.ServingEndpoints, endpoint, rollout.BackupInput{
//		Release: tag, StableModel: &rollout.ModelRef{Name: model, Version: stableVersion}, Record: rec})
//	if err != nil { return err }                          // before anything changes
//	_ = rec.Attach(rollout.BackupAttachment, path)
//
//	var resume *rollout.Checkpoint
//	var cp rollout.Checkpoint
//	if ok, _ := rec.Attachment(rollout.CanaryAttachment, &cp); ok { resume = &cp }
//	c := &rollout.Canary{
//		API: w.ServingEndpoints, Endpoint: endpoint,
//		Candidate: rollout.Entity{Name: rollout.ServedEntityName(model, version), EntityName: model, EntityVersion: version, WorkloadSize: "Small"},
//		Plan:      rollout.PlanFromPolicy(b.Rollout),
//		Options:   rollout.Options{Clock: clock, Out: out},
//		Resume:    resume,
//		Until:     rollout.StageCanary, // then StagePromoting, then "" (cd runs three stages)
//		Progress: func(p rollout.Progress) {
//			_ = rec.Attach(rollout.CanaryAttachment, p.Checkpoint)
//			_ = journal.Save(ctx, rec)
//		},
//	}
//	outcome, err := c.Run(ctx)
//	var abort *rollout.AbortError
//	switch {
//	case errors.Is(err, rollout.ErrNotServing), errors.Is(err, rollout.ErrEndpointMissing):
//		// a first release: nothing to compare against, serve it directly
//	case errors.As(err, &abort):
//		// record aborted with abort.Why() and abort.Intervals, notify, exit with the cause's code
//	case errors.Is(err, rollout.ErrPaused):
//		// stopped where Until said: the next stage runs it again
//	case err != nil:
//		// interrupted or refused: the endpoint still serves stable; re-run resumes
//	default:
//		// outcome.After serves the candidate alone: smoke test, record stable
//	}
//
// # How mage rollback calls it
//
//	target := rollout.Entity{EntityName: model, EntityVersion: previousStable.Model.Version}
//	pv, err := rollout.PreviewRollback(ctx, w.ServingEndpoints, endpoint, target) // show pv.Text, ask
//	ch, err := rollout.RollbackTo(ctx, w.ServingEndpoints, endpoint, target, rollout.Options{Out: out})
//	// then smoke tests, a KindRollback record with ch.Before / ch.After, notify
package rollout

// Keys under which deploy:prod keeps the rollout's evidence in a release
// record's attachments.
const (
	// BackupAttachment holds the workspace path of the backup taken
	// before the change.
	BackupAttachment = "backup"
	// CanaryAttachment holds the latest Checkpoint.
	CanaryAttachment = "canary"
)
