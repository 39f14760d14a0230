package cd

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/judge"
	"github.com/hitl-mlops/interrupt-agent/magefiles/verify"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// Keys under which the production stages keep evidence in a release
// record's attachments, next to rollout.BackupAttachment and
// rollout.CanaryAttachment.
const (
	// AttachAbort holds an AbortSummary when the canary was pulled back.
	AttachAbort = "abort"
	// AttachSmoke holds the smoke tests' SmokeSummary.
	AttachSmoke = "smoke"
	// AttachRollback holds a rollback record's RollbackSummary.
	AttachRollback = "rollback"
)

// RolloutState is what the production rollout stages share within a run.
type RolloutState struct {
	// Plan is the canary plan from the bundle's rollout variables.
	Plan rollout.Plan
	// Candidate is the served entity of the release's model version.
	Candidate rollout.Entity
	// First is set when the endpoint served no version yet: the release
	// was served directly, with nothing to compare a canary against.
	First bool
	// Outcome is the finished rollout (the candidate serves 100%).
	Outcome *rollout.Outcome
	// Abort is the canary pulled back, with its evidence.
	Abort *rollout.AbortError

	lastRefresh time.Time
}

// AbortSummary is the record's account of an aborted canary.
type AbortSummary struct {
	// Why is the cause: candidate judged worse, insufficient traffic,
	// platform error, operator interrupt or timeout.
	Why       rollout.AbortCause `json:"why"`
	Reason    string             `json:"reason"`
	Restored  bool               `json:"restored"`
	Decision  *judge.Decision    `json:"decision,omitempty"`
	Intervals []rollout.Interval `json:"intervals,omitempty"`
	Stable    string             `json:"stable"`
	Candidate string             `json:"candidate"`
	Updates   int                `json:"updates"`
}

// SmokeSummary is the record's account of the smoke tests after a change.
type SmokeSummary struct {
	Passed bool      `json:"passed"`
	At     time.Time `json:"at"`
	Tests  int       `json:"tests"`
	Failed []string  `json:"failed,omitempty"`
}

// Backups are the environment's endpoint backups: in the workspace (every
// machine restores from there) and a masked copy under artifacts/backups/.
func (s *State) Backups() *rollout.Backups {
	return &rollout.Backups{
		Env: s.Config.Env.Name(), Store: workspace.Files{API: s.Client.W.Workspace}, Dir: s.Config.BackupDir,
		Local: release.DirStore{Dir: s.Artifacts}, LocalDir: path.Join("backups", s.Config.Env.Name()), Now: s.Clock.Now,
	}
}

// Backup snapshots the endpoint's config (served entities, traffic, tags),
// the stable model version and the release record before anything
// changes: no backup, no deploy. A resumed run keeps the backup it took
// before the interruption, which shows the endpoint as it was.
type Backup struct{}

// Name implements Stage.
func (Backup) Name() string { return "backup" }

// Run implements Stage.
func (Backup) Run(ctx context.Context, s *State) error {
	var taken string
	if ok, _ := s.Record.Attachment(rollout.BackupAttachment, &taken); ok && taken != "" && s.resumedOK("backup") {
		return Skip("taken before the interruption: %s", taken)
	}
	stable, err := s.stableModel(ctx)
	if err != nil {
		return err
	}
	label := s.Release.Tag
	if s.Record.Kind == release.KindRollback {
		label = "rollback-to-" + s.Release.Tag
		if s.Release.Tag == "" && s.Version != nil {
			label = "rollback-to-model-v" + s.Version.Version
		}
	}
	b, p, err := s.Backups().Take(ctx, s.Client.W.ServingEndpoints, s.Config.Endpoint.Name, rollout.BackupInput{
		Release: label, StableModel: stable, Record: s.Record,
	})
	if err != nil {
		return fmt.Errorf("%w: no backup, no change", err)
	}
	if err := s.Record.Attach(rollout.BackupAttachment, p); err != nil {
		return err
	}
	what := "the endpoint does not exist yet"
	if b.Endpoint.Exists {
		var parts []string
		for _, r := range b.Endpoint.Routes {
			parts = append(parts, fmt.Sprintf("%s %d%%", r.ServedEntityName, r.TrafficPercentage))
		}
		what = strings.Join(parts, ", ")
		if what == "" {
			what = "nothing served"
		}
	}
	s.Printf("   %s (%s) -> %s\n   copy: %s\n", s.Config.Endpoint.Name, what, p,
		filepath.Join(s.Artifacts, "backups", s.Config.Env.Name(), path.Base(p)))
	return nil
}

// stableModel is the model version of the environment's newest good
// release, nil when there is none yet.
func (s *State) stableModel(ctx context.Context) (*rollout.ModelRef, error) {
	good, err := s.Journal.LatestWhere(ctx, func(r *release.Record) bool { return r.Good() && r.Model != nil })
	if errors.Is(err, release.ErrNoRecord) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &rollout.ModelRef{Name: good.Model.Name, Version: good.Model.Version}, nil
}

// Canary puts the candidate next to the stable version at the bundle's
// canary_traffic_percent and waits until the endpoint is READY. An
// endpoint that serves nothing yet is left to the serve stage (a first
// release has nothing to compare against); one that already serves the
// candidate alone is left as it is.
type Canary struct{}

// Name implements Stage.
func (Canary) Name() string { return "canary" }

// Run implements Stage.
func (Canary) Run(ctx context.Context, s *State) error {
	rs, err := s.rolloutState()
	if err != nil {
		return err
	}
	if s.Record.Previous == nil {
		if ep, err := s.Client.W.ServingEndpoints.GetByName(ctx, s.Config.Endpoint.Name); err == nil && rollout.Traffic(ep)[rs.Candidate.Name] == 0 {
			s.Record.Previous = EndpointSnapshot(ep)
		}
	}
	s.Printf("   plan: %s\n", describePlan(rs.Plan))
	out, err := s.runCanary(ctx, rollout.StageCanary)
	switch {
	case errors.Is(err, rollout.ErrPaused):
		// The candidate now has its share: it is @challenger.
		return s.Registry.MoveAliasesLive(ctx)
	case firstRelease(err):
		rs.First = true
		return Skip("%s serves no version yet: the first release is served directly by the serve stage (no stable version to compare a canary against)", s.Config.Endpoint.Name)
	}
	return s.afterRollout(ctx, out, err, true)
}

func firstRelease(err error) bool {
	return errors.Is(err, rollout.ErrNotServing) || errors.Is(err, rollout.ErrEndpointMissing)
}

// Analyze judges the candidate against the stable version every
// analysis_interval from the endpoint's metrics export (and probe traffic
// with CANARY_PROBES=1), printing each interval's numbers, until package
// rollout/judge promotes it (on evidence, or at canary_max_duration) or
// aborts. An abort puts the stable version back at 100%, records the
// evidence and fails the deploy.
type Analyze struct{}

// Name implements Stage.
func (Analyze) Name() string { return "analysis" }

// Run implements Stage.
func (Analyze) Run(ctx context.Context, s *State) error {
	rs, err := s.rolloutState()
	if err != nil {
		return err
	}
	if rs.First {
		return Skip("first release: no stable version to compare against")
	}
	out, err := s.runCanary(ctx, rollout.StagePromoting)
	if errors.Is(err, rollout.ErrPaused) {
		return nil
	}
	return s.afterRollout(ctx, out, err, true)
}

// finishRollout is deploy:prod's serve stage (Serve with Canary): the
// candidate that passed its analysis gets all the traffic and the old
// entity is removed (its spec stays in the backup), then the endpoint is
// READY; a failed promotion puts the stable version back. A first release
// is served directly.
func (s *State) finishRollout(ctx context.Context) error {
	rs, err := s.rolloutState()
	if err != nil {
		return err
	}
	if rs.First {
		return s.serveAlone(ctx)
	}
	out, err := s.runCanary(ctx, "")
	if firstRelease(err) {
		rs.First = true
		return s.serveAlone(ctx)
	}
	return s.afterRollout(ctx, out, err, false)
}

// Smoke runs the smoke cases against the endpoint after the change. A
// failure fails the run: the endpoint serves the new version, so the way
// back is `mage rollback`.
type Smoke struct{}

// Name implements Stage.
func (Smoke) Name() string { return "smoke" }

// Run implements Stage.
func (Smoke) Run(ctx context.Context, s *State) error {
	opts, err := s.VerifyOptions()
	if err != nil {
		return err
	}
	// The canary analysis read the metrics; smoke is about answers.
	opts.Smoke, opts.Load, opts.Metrics = true, nil, nil
	opts.Env = s.Config.Env.Name() + "-smoke"
	rep, err := verify.Run(ctx, s.Client.W.ServingEndpoints, opts)
	if rep == nil {
		return err
	}
	if rerr := rep.Render(s.Out, s.Opts.Color); rerr != nil && err == nil {
		err = rerr
	}
	pass, fail, skip := rep.Suite.Counts()
	sum := SmokeSummary{Passed: err == nil, At: s.Clock.Now().UTC(), Tests: pass + fail + skip, Failed: rep.Suite.Failed()}
	if aerr := s.Record.Attach(AttachSmoke, sum); aerr != nil && err == nil {
		err = aerr
	}
	if err != nil {
		if s.Record.Kind == release.KindRollback {
			return fmt.Errorf("smoke tests after the rollback: %w", err)
		}
		return fmt.Errorf("smoke tests after the rollout: %w; %s now serves %s: run `mage rollback %s` to go back to the last stable release",
			err, s.Config.Endpoint.Name, s.Release.Tag, s.Config.Env.Name())
	}
	return nil
}

// rolloutState builds the plan and the candidate once per run.
func (s *State) rolloutState() (*RolloutState, error) {
	if s.Rollout != nil {
		return s.Rollout, nil
	}
	if s.Version == nil {
		return nil, errors.New("no model version to roll out (the promote stage did not run)")
	}
	plan := s.canaryPlan()
	if err := plan.Validate(); err != nil {
		return nil, err
	}
	cand := s.ServedEntity(s.Version.Name, s.Version.Version)
	s.Rollout = &RolloutState{Plan: plan, Candidate: cand, lastRefresh: s.Clock.Now()}
	return s.Rollout, nil
}

// canaryPlan is the rollout plan of the bundle target's policy, with
// probe traffic when asked for.
func (s *State) canaryPlan() rollout.Plan {
	plan := rollout.PlanFromPolicy(s.Config.Bundle.Rollout)
	if s.probes() {
		plan = plan.WithProbes()
		if cases, err := verify.LoadCases(filepath.Join(s.Root, CasesPath)); err == nil {
			plan.Probe.Records = verify.FirstRequests(cases)
		}
	}
	return plan
}

func (s *State) probes() bool {
	return s.Opts.Canary.Probes || s.envFlag(CanaryProbesEnv)
}

func (s *State) canaryClock() rollout.Clock {
	if s.Opts.Canary.Clock != nil {
		return s.Opts.Canary.Clock
	}
	if s.scaledClock != nil {
		return s.scaledClock
	}
	return s.Clock
}

// rolloutOptions are the options of every endpoint change this run makes.
func (s *State) rolloutOptions() rollout.Options {
	return rollout.Options{
		Clock: s.canaryClock(), Out: s.Out, UpdateTimeout: s.Opts.Timeouts.Endpoint,
		Backoff: s.Opts.Canary.Backoff, OnUpdate: s.Opts.Canary.OnUpdate,
	}
}

// runCanary runs the rollout until the given point, resuming from the
// checkpoint in the record; every step's checkpoint is saved in the record
// and the lock is kept fresh while the analysis runs.
func (s *State) runCanary(ctx context.Context, until rollout.Stage) (*rollout.Outcome, error) {
	rs, err := s.rolloutState()
	if err != nil {
		return nil, err
	}
	var resume *rollout.Checkpoint
	var cp rollout.Checkpoint
	if ok, err := s.Record.Attachment(rollout.CanaryAttachment, &cp); err != nil {
		return nil, err
	} else if ok {
		resume = &cp
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c := &rollout.Canary{
		API: s.Client.W.ServingEndpoints, Endpoint: s.Config.Endpoint.Name,
		Candidate: rs.Candidate, Plan: rs.Plan, Options: s.rolloutOptions(),
		Resume: resume, Until: until,
		Progress: func(p rollout.Progress) { s.rolloutProgress(rctx, p, cancel) },
	}
	out, err := c.Run(rctx)
	if cause := context.Cause(rctx); err != nil && ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return nil, fmt.Errorf("%w; the rollout stopped: %v", cause, err)
	}
	return out, err
}

// rolloutProgress keeps the checkpoint in the record and the lock fresh.
func (s *State) rolloutProgress(ctx context.Context, p rollout.Progress, stop context.CancelCauseFunc) {
	if err := s.Record.Attach(rollout.CanaryAttachment, p.Checkpoint); err != nil {
		s.Printf("   warning: %v\n", err)
	}
	if err := s.Journal.Save(ctx, s.Record); err != nil && ctx.Err() == nil {
		s.Printf("   warning: could not save the rollout's progress: %v\n", err)
	}
	if s.Lock == nil || s.Rollout == nil {
		return
	}
	every := s.Opts.LockRefresh
	if every == 0 {
		every = DefaultLockRefresh
	}
	now := s.Clock.Now()
	if every > 0 && now.Sub(s.Rollout.lastRefresh) < every {
		return
	}
	if err := s.Lock.Refresh(ctx); err != nil {
		if ctx.Err() == nil {
			// Someone broke the lock (mage unlock): another deploy may start,
			// so this one stops where it is rather than interleave.
			stop(fmt.Errorf("lost the %s lock during the rollout: %w", s.Config.Env, err))
		}
		return
	}
	s.Rollout.lastRefresh = now
	s.Printf("   lock refreshed until %s\n", s.Lock.Expiry.Format(time.RFC3339))
}

// afterRollout turns what the rollout returned into the stage's result.
// early marks the canary and analysis stages, for which a finished rollout
// means there was nothing left to do.
func (s *State) afterRollout(ctx context.Context, out *rollout.Outcome, err error, early bool) error {
	var ae *rollout.AbortError
	switch {
	case errors.As(err, &ae):
		if ae.Restored && ae.After != nil {
			if aerr := s.Registry.MoveAliases(ctx, ae.After); aerr != nil {
				s.Printf("   warning: %v\n", aerr)
			}
		}
		return s.aborted(ae)
	case err != nil:
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("%w (re-run deploy:%s to resume from here)", err, s.Config.Env)
	case out == nil:
		return errors.New("the rollout returned no outcome")
	}
	s.Rollout.Outcome = out
	s.Endpoint = out.After
	// The endpoint carries the release it serves: only once the candidate
	// has all the traffic, not while 90% still goes to the stable release.
	if rollout.Traffic(out.After)[s.Rollout.Candidate.Name] == 100 {
		if err := s.TagEndpoint(ctx, out.After); err != nil {
			return err
		}
	}
	if err := s.Registry.MoveAliases(ctx, out.After); err != nil {
		return err
	}
	s.Record.Endpoint = EndpointSnapshot(out.After)
	if early && out.Updates == 0 {
		return Skip("%s already serves %s v%s at 100%%", s.Config.Endpoint.Name, s.Version.Name, s.Version.Version)
	}
	if early {
		s.Printf("   the rollout finished in this stage (it resumed %s)\n", out.Resumed)
	}
	return nil
}

// aborted records an aborted canary and returns the deploy's error.
func (s *State) aborted(ae *rollout.AbortError) error {
	s.Rollout.Abort = ae
	if ae.Restored {
		s.failOutcome = release.OutcomeAborted
	}
	// Not restored: the record stays failed, so a re-run resumes it and
	// finishes the abort from the checkpoint.
	if ae.After != nil {
		s.Record.Endpoint = EndpointSnapshot(ae.After)
	}
	sum := AbortSummary{
		Why: ae.Why(), Reason: ae.Reason, Restored: ae.Restored, Decision: ae.Decision, Intervals: ae.Intervals,
		Stable: ae.Stable.Name, Candidate: ae.Candidate.Name, Updates: ae.Updates,
	}
	if err := s.Record.Attach(AttachAbort, sum); err != nil {
		s.Printf("   warning: %v\n", err)
	}
	return fmt.Errorf("%w; the evidence is in release record %s (%s)", ae, s.Record.ID,
		filepath.Join(s.Artifacts, "releases", s.Config.Env.Name(), s.Record.ID+".json"))
}

// describePlan renders "10% -> analyse every 1m0s -> 100% (alpha 0.01, at most 20 minutes, ...)".
func describePlan(p rollout.Plan) string {
	var parts []string
	for _, st := range p.Steps {
		switch {
		case st.SetWeight != 0:
			parts = append(parts, fmt.Sprintf("%d%%", st.SetWeight))
		case st.Analyze != nil:
			parts = append(parts, fmt.Sprintf("analyse every %s", st.Analyze.Interval))
		case st.Promote:
			parts = append(parts, "100%")
		}
	}
	text := strings.Join(parts, " -> ")
	text += fmt.Sprintf(" (sequential test: false aborts at most %g, promote below %gx the stable error rate, at most %d minutes, %d canary requests needed",
		p.Judge.Alpha, p.Judge.MaxErrorRatio, p.Judge.MaxMinutes, p.Judge.MinRequests)
	if p.Probe != nil {
		text += fmt.Sprintf("; probes: up to %d per interval", p.Probe.Cap)
	}
	return text + ")"
}

// endpointMissing reports a read of an endpoint that does not exist.
func endpointMissing(err error) bool {
	return errors.Is(err, apierr.ErrResourceDoesNotExist) || errors.Is(err, apierr.ErrNotFound) || errors.Is(err, rollout.ErrEndpointMissing)
}

// servedVersions are the model versions an endpoint routes traffic to.
func servedVersions(ep *serving.ServingEndpointDetailed) map[string]int {
	out := map[string]int{}
	if ep == nil || ep.Config == nil {
		return out
	}
	traffic := rollout.Traffic(ep)
	for _, e := range ep.Config.ServedEntities {
		if traffic[e.Name] > 0 {
			out[e.EntityVersion] += traffic[e.Name]
		}
	}
	return out
}
