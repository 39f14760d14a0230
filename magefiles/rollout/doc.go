// Package rollout changes what a production serving endpoint serves, and
// only this package does: it backs the endpoint's config up before a
// change, rolls a candidate model version out as a canary beside the
// version it serves now (stable), promotes or aborts it, and rolls back.
//
// Where is the canary decided? In package rollout/judge: judge.Decide,
// over the minutes judge.Observe has folded in, says continue, promote,
// abort or insufficient traffic, with the evidence. This package only
// feeds it and acts on the answer: run.analyze (canary.go) reads the
// metrics export every analysis_interval (package servingmetrics), turns
// each minute the export newly shows into a judge.Minute, candidate
// against stable, and stops once the decision is final.
//
// Reading order:
//
//   - steps.go: the Plan. PlanFromPolicy turns the bundle's rollout
//     variables into setWeight(canary_traffic_percent),
//     analyze(analysis_interval), promote, judged by the judge.Config of
//     canary_alpha, canary_max_error_ratio, canary_max_duration and
//     min_requests; WithProbes adds probe traffic (probe.go) sized so a
//     quiet endpoint still reaches a verdict; Validate insists that every
//     weight is analyzed before traffic moves on and promote comes last.
//   - config.go: pure functions over endpoint configs: where the endpoint
//     stands (stable, candidate, weight) and the configs the rollout sends.
//   - canary.go: Canary.Run walks the steps. setWeight is one UpdateConfig
//     serving stable and candidate side by side at n% (stable's spec
//     copied from the live config, so it is not redeployed), then READY;
//     analyze is described above; promote serves the candidate alone. An
//     abort (the verdict, or any update that fails) restores stable alone
//     at 100%, retrying, and returns an *AbortError with the reason, the
//     decision and every interval's evidence; AbortError.Why names the
//     cause (progress.go), of which only "candidate judged worse" is a
//     verdict on the candidate.
//   - resume.go: how Run goes on from a Checkpoint (Canary.Resume) after a
//     crash or between stages: intervals judged at the current weight
//     count again, an abort or a promotion already decided is finished,
//     and a candidate already serving is analyzed or tidied up without
//     another update. Canary.Until stops a run at StageCanary or
//     StagePromoting (ErrPaused), which is how deploy:prod runs its
//     canary, analysis and rollout stages (magefiles/cd, stages_prod.go).
//   - endpoint.go and clock.go: the SDK's serving API behind Endpoints
//     (w.ServingEndpoints satisfies it), READY polls and waits through a
//     Clock, so tests run the whole loop on a scaled clock.
//   - backup.go and rollback.go: Backups.Take snapshots the endpoint into
//     the workspace and a masked local copy (no backup, no deploy);
//     RestoreConfig, RollbackTo and PreviewRollback serve what mage
//     rollback asks for.
//
// Safety: no config the rollout sends leaves stable without traffic until
// the candidate has passed and is promoted, and every step looks at the
// endpoint before acting, so it is idempotent. A cancelled context stops
// promptly and leaves the endpoint as it was: stable still routed, ready
// to resume. The Progress callback hands out each Checkpoint for the
// release record (under CanaryAttachment).
package rollout
