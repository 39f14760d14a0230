package rollout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/judge"
	"github.com/hitl-mlops/interrupt-agent/magefiles/servingmetrics"
)

// Canary rolls a candidate model version out on a serving endpoint next to
// the version it serves now (the stable one), by walking the plan's steps.
type Canary struct {
	API      Endpoints
	Endpoint string
	// Candidate is the new version's served entity; an empty Name becomes
	// ServedEntityName(EntityName, EntityVersion).
	Candidate Entity
	// Stable, when set, is the version the endpoint must be serving; by
	// default it is whichever single version the endpoint routes traffic to
	// besides the candidate.
	Stable *Entity
	Plan   Plan
	Options
	// Progress, when set, hears every step; store its Checkpoint in the
	// release record.
	Progress func(Progress)
	// Resume is the last stored checkpoint of this rollout, after a crash.
	Resume *Checkpoint
	// Until, when set, makes Run stop early and return ErrPaused:
	// StageCanary once a setWeight step has the candidate serving at its
	// weight, StagePromoting once the analysis decided to promote (the
	// decision is reported first, so the checkpoint carries it) and before
	// the promoting update. Run again, with the checkpoint as Resume, to go
	// on from there. deploy:prod runs its canary, analysis and rollout as
	// three stages this way. An abort is always carried through.
	Until Stage
}

// ErrPaused is returned by Run when it stopped where Canary.Until asked:
// the endpoint keeps the stable version routed, with the candidate at its
// canary weight.
var ErrPaused = errors.New("rollout paused")

// Run walks the steps from where the endpoint stands and returns when the
// candidate serves all traffic. An abort returns an *AbortError (stable
// serves 100% again, the evidence attached); a cancelled context returns
// promptly with the endpoint as it was (stable still routed), and running
// again resumes. The endpoint must already serve a stable version
// (ErrNotServing otherwise: a first release is served directly).
func (c *Canary) Run(ctx context.Context) (*Outcome, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	r := &run{c: c, cand: c.Candidate}
	if r.cand.Name == "" {
		r.cand.Name = ServedEntityName(r.cand.EntityName, r.cand.EntityVersion)
	}
	r.d = &driver{api: c.API, endpoint: c.Endpoint, o: c.Options.withDefaults()}
	if c.Plan.Probe != nil {
		r.probes = &prober{probe: c.Plan.Probe, q: c.API, endpoint: c.Endpoint}
	}
	pos, err := r.findPosition(ctx)
	if err != nil {
		return nil, err
	}
	if cp := c.Resume; cp != nil {
		if out, done, err := r.resume(ctx, *cp, pos); done {
			return out, err
		}
	}
	return r.walk(ctx, r.firstStep(pos), pos)
}

// findPosition reads where the endpoint stands: which entity is stable,
// whether the candidate already serves and at what weight. The checkpoint
// starts from there.
func (r *run) findPosition(ctx context.Context) (position, error) {
	c := r.c
	ep, err := r.d.settle(ctx)
	if err != nil {
		return position{}, r.stop(err)
	}
	r.before, r.live = ep, ep
	pos, err := locate(ep, r.cand, c.Stable)
	if err != nil {
		return position{}, fmt.Errorf("canary of %s on %s: %w", describe(r.cand), c.Endpoint, err)
	}
	if pos.candidate != nil {
		// Keep the live spec (and name) so resuming does not redeploy it.
		r.cand = *pos.candidate
	}
	r.stable = pos.stable
	r.cp = Checkpoint{Endpoint: c.Endpoint, Candidate: r.cand.Name, Percent: pos.weight}
	if r.stable != nil {
		r.cp.Stable = r.stable.Name
	}
	return pos, nil
}

// walk runs the plan's steps from start, the candidate where pos found
// it, until it is promoted, aborted or paused where Until asks.
func (r *run) walk(ctx context.Context, start int, pos position) (*Outcome, error) {
	c := r.c
	steps := c.Plan.Steps
	weight := pos.weight
	for i := start; i < len(steps); i++ {
		s := steps[i]
		r.cp.Step = i
		switch {
		case s.SetWeight != 0:
			if err := r.setWeight(ctx, s.SetWeight); err != nil {
				if isStop(ctx, err) {
					return nil, r.stop(err)
				}
				return nil, r.abort(ctx, fmt.Sprintf("setting the candidate to %d%% failed", s.SetWeight), nil, err)
			}
			weight = s.SetWeight
			if c.Until == StageCanary {
				return nil, ErrPaused
			}
		case s.Analyze != nil:
			dec, err := r.analyze(ctx, i, *s.Analyze, weight)
			if err != nil {
				return nil, r.stop(err)
			}
			r.decision = &dec
			if dec.Outcome != judge.Promote {
				return nil, r.abort(ctx, dec.Reason, &dec, r.readFailure)
			}
			r.cp.Reason = dec.Reason
		case s.Promote:
			if c.Until == StagePromoting && pos.weight < 100 {
				r.report(StagePromoting, r.decision)
				return nil, ErrPaused
			}
			return r.promote(ctx)
		}
	}
	return nil, errors.New("rollout plan ended without promote") // Validate prevents this
}

func (c *Canary) validate() error {
	var errs []error
	if c.API == nil {
		errs = append(errs, errors.New("no serving API"))
	}
	if c.Endpoint == "" {
		errs = append(errs, errors.New("no endpoint name"))
	}
	if c.Candidate.EntityName == "" || c.Candidate.EntityVersion == "" {
		errs = append(errs, errors.New("the candidate needs entity_name and entity_version"))
	}
	if err := c.Plan.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("canary: %w", errors.Join(errs...))
	}
	return nil
}

// run is one execution of a Canary.
type run struct {
	c        *Canary
	d        *driver
	probes   *prober
	cand     Entity
	stable   *Entity
	before   *serving.ServingEndpointDetailed
	live     *serving.ServingEndpointDetailed // the last config seen
	cp       Checkpoint
	decision *judge.Decision
	resumed  string
	// readFailure is the last failed read of the metrics export when too
	// many in a row aborted the analysis: a platform error, not a verdict.
	readFailure error
}

func (r *run) printf(format string, args ...any) { r.d.printf(format, args...) }

func (r *run) report(stage Stage, dec *judge.Decision) {
	r.cp.Stage, r.cp.At = stage, r.d.o.Clock.Now().UTC()
	if r.c.Progress == nil {
		return
	}
	cp := r.cp
	cp.Intervals = append([]Interval(nil), r.cp.Intervals...)
	r.c.Progress(Progress{Checkpoint: cp, Decision: dec})
}

// setWeight puts the candidate at weight next to stable, unless the
// endpoint already serves exactly that.
func (r *run) setWeight(ctx context.Context, weight int) error {
	r.cp.Percent = weight
	r.report(StageCanary, nil)
	cfg := canaryConfig(r.c.Endpoint, *r.stable, r.cand, weight)
	if matches(r.live, cfg) && ready(r.live) {
		r.printf("   canary: %s already at %d%%, %s at %d%%\n", r.cand.Name, weight, r.stable.Name, 100-weight)
		return nil
	}
	r.printf("   canary: %s -> %s at %d%%, %s at %d%%\n", DescribeTraffic(r.live), r.cand.Name, weight, r.stable.Name, 100-weight)
	ep, err := r.d.apply(ctx, cfg)
	if ep != nil {
		r.live = ep
	}
	if err != nil {
		return err
	}
	r.printf("   %s READY: %s\n", r.c.Endpoint, DescribeTraffic(ep))
	return nil
}

// analyze runs one analyze step: every interval (whole minutes) it reads
// the metrics export, feeds each minute the export newly shows to the
// sequential judge, prints each minute's numbers and statistic, and stops
// once the judge decides. Minutes a resumed run already judged at this
// step and weight are folded in again first.
func (r *run) analyze(ctx context.Context, step int, a AnalyzeStep, weight int) (judge.Decision, error) {
	cfg := r.c.Plan.Judge
	limit := r.c.Plan.ScrapeErrorLimit
	if limit <= 0 {
		limit = DefaultScrapeErrorLimit
	}
	var st judge.State
	prior := judged(r.cp.Intervals, step, weight)
	latencyKnown := false
	if n := len(prior); n > 0 {
		cfg.Latency, latencyKnown = prior[n-1].LatencyStat != nil, true
	}
	for _, iv := range prior {
		for _, m := range iv.Judged {
			st = judge.Observe(cfg, st, m)
		}
	}
	dec := judge.Decide(cfg, st)
	n := len(prior)
	if n > 0 {
		r.printf("   analysis resumes after %d minutes judged: %s\n", st.Minutes, dec.Summary())
	}
	r.printf("   analysis: every %s, false-abort rate at most %g, promote once the error ratio is shown below %g, at most %d minutes, %d candidate requests needed\n",
		a.Interval, cfg.Alpha, cfg.MaxErrorRatio, cfg.MaxMinutes, cfg.MinRequests)
	var series servingmetrics.Series
	if _, err := r.read(ctx, &series); err == nil {
		series.Next() // minutes before the analysis are not the candidate's at this weight
	}
	looks, failedReads := 0, 0
	gaps := 0
	seen := false         // a minute of the candidate or the stable version was read
	unattributed := false // the export names no served entity
	for !dec.Outcome.Final() {
		stats, err := r.probes.wait(ctx, r.d.o.Clock, a.Interval)
		if err != nil {
			return dec, err
		}
		looks++
		n++
		iv := Interval{Step: step, Percent: weight, N: n}
		fresh, readErr := r.read(ctx, &series)
		if ctx.Err() != nil {
			return dec, ctx.Err()
		}
		iv.At = r.d.o.Clock.Now().UTC()
		switch {
		case readErr != nil:
			failedReads++
			iv.ScrapeError = readErr.Error()
			r.printf("   read %d: %v\n", n, readErr)
			if failedReads >= limit {
				r.readFailure = readErr
				dec.Outcome = judge.Abort
				dec.Reason = fmt.Sprintf("%d reads of the metrics export in a row failed (last: %v)", failedReads, readErr)
			}
		default:
			failedReads = 0
			if !latencyKnown {
				cfg.Latency, latencyKnown = series.LatencyExported, true
			}
			seen = seen || attributed(fresh, r.cand.Name, r.stable.Name)
			if series.Unattributed > 0 && !seen {
				unattributed = true
				// The export's documentation shows no per-entity label: an
				// export without one cannot tell the candidate's requests
				// from the stable version's, and the judge never decides on
				// requests it cannot attribute.
				dec.Outcome = judge.InsufficientTraffic
				dec.Reason = fmt.Sprintf("the metrics export names no served entity (%d series without a served_model_name or served_entity_name label): the candidate's requests cannot be told from %s's, so the candidate was not judged",
					series.Unattributed, r.stable.Name)
				break
			}
			for _, w := range fresh {
				m := judge.MinuteOf(w, r.cand.Name, r.stable.Name)
				st = judge.Observe(cfg, st, m)
				dec = judge.Decide(cfg, st)
				iv.Judged = append(iv.Judged, m)
				r.printf("   %s\n", judge.Line(m, dec))
				if dec.Outcome.Final() {
					break
				}
			}
			if len(fresh) == 0 {
				r.printf("   read %d: the export shows no new minute yet\n", n)
			}
			if g := series.Gaps(); len(g) > gaps {
				gaps = len(g)
				iv.Gaps = g
				r.printf("   the export never showed %d minutes (first %s)\n", len(g), g[0].Format("15:04"))
			}
		}
		// A canary whose export stops showing minutes still ends.
		waited := looks * int(a.Interval/time.Minute)
		if !dec.Outcome.Final() && waited >= cfg.MaxMinutes+2 && st.Minutes < cfg.MaxMinutes {
			dec.Outcome = judge.InsufficientTraffic
			dec.Reason = fmt.Sprintf("insufficient traffic: the export showed %d minutes (%s candidate requests) in %d minutes of analysis",
				st.Minutes, strconv.FormatFloat(st.Candidate.Requests, 'f', -1, 64), waited)
		}
		iv.Decision = dec
		if r.probes != nil {
			iv.Probes = &stats
			r.printf("   [%d probes, %d failed]\n", stats.Sent, stats.Failed)
		}
		r.cp.Intervals = append(r.cp.Intervals, iv)
		r.report(StageAnalysis, &dec)
	}
	if dec.Outcome == judge.InsufficientTraffic && !unattributed {
		// What to change is the rollout's to say: the judge does not know
		// the settings, and an export that names no entity needs none.
		dec.Reason += "; " + r.trafficHint()
	}
	r.printf("   decision: %s\n", dec.Summary())
	return dec, nil
}

// trafficHint says what to change when the canary saw too little traffic,
// never a setting already set.
func (r *run) trafficHint() string {
	if r.probes != nil {
		return "probes were on: raise canary_traffic_percent or canary_max_duration, or lower min_requests"
	}
	return "set CANARY_PROBES=1 or raise canary_traffic_percent"
}

// attributed reports whether any window names the candidate or the stable
// version.
func attributed(ws []servingmetrics.Window, cand, stable string) bool {
	for _, w := range ws {
		if w.Has(cand) || w.Has(stable) {
			return true
		}
	}
	return false
}

// read scrapes the export into the series and returns the windows it
// newly shows.
func (r *run) read(ctx context.Context, series *servingmetrics.Series) ([]servingmetrics.Window, error) {
	at := r.d.o.Clock.Now()
	reading, err := servingmetrics.Scrape(ctx, r.c.API, r.c.Endpoint, at)
	if err != nil {
		return nil, err
	}
	series.Add(reading, at)
	return series.Next(), nil
}

// promote moves all traffic to the candidate and drops the stable entity
// (its spec stays in the backup). A failed promotion restores stable.
func (r *run) promote(ctx context.Context) (*Outcome, error) {
	r.report(StagePromoting, nil)
	cfg := singleConfig(r.c.Endpoint, r.cand)
	ep := r.live
	var err error
	if matches(ep, cfg) && ready(ep) {
		r.printf("   promote: %s already serves 100%%\n", r.cand.Name)
	} else {
		r.printf("   promote: %s -> %s at 100%%\n", DescribeTraffic(ep), r.cand.Name)
		ep, err = r.d.apply(ctx, cfg)
	}
	if err != nil {
		if isStop(ctx, err) {
			return nil, r.stop(err)
		}
		if r.stable == nil {
			return nil, fmt.Errorf("promote %s on %s: %w", describe(r.cand), r.c.Endpoint, err)
		}
		return nil, r.abort(ctx, "promoting the candidate to 100% failed", r.decision, err)
	}
	r.live = ep
	r.cp.Percent = 100
	r.report(StagePromoted, nil)
	r.printf("   %s READY: %s\n", r.c.Endpoint, DescribeTraffic(ep))
	return &Outcome{
		Endpoint: r.c.Endpoint, Stable: r.stable, Candidate: r.cand,
		Before: r.before, After: ep, Intervals: r.cp.Intervals, Decision: r.decision,
		Updates: r.d.updates, Resumed: r.resumed,
	}, nil
}

// abortResumed finishes an abort an earlier run began, with the cause its
// checkpoint recorded.
func (r *run) abortResumed(ctx context.Context, cp Checkpoint) error {
	r.cp.Why = cp.Why
	return r.abort(ctx, cp.Reason, nil, nil)
}

// abort puts stable back at 100% without the candidate and returns the
// AbortError with the evidence.
func (r *run) abort(ctx context.Context, reason string, dec *judge.Decision, cause error) error {
	r.cp.Reason = reason
	if cause != nil {
		r.cp.Reason = fmt.Sprintf("%s: %v", reason, cause)
	}
	if r.stable == nil {
		return fmt.Errorf("canary of %s on %s: %s, and the endpoint has no stable version left to restore (%s): use mage rollback",
			describe(r.cand), r.c.Endpoint, r.cp.Reason, DescribeTraffic(r.live))
	}
	ae := &AbortError{
		Endpoint: r.c.Endpoint, Stable: *r.stable, Candidate: r.cand, Reason: r.cp.Reason,
		Decision: dec, Cause: cause, Before: r.before, Resumed: r.cp.Why,
	}
	r.cp.Why = ae.Why()
	r.report(StageAborting, dec)
	r.printf("   aborting (%s): %s\n   restoring %s at 100%%\n", ae.Why(), r.cp.Reason, describe(*r.stable))
	ep, err := r.d.restore(ctx, singleConfig(r.c.Endpoint, *r.stable))
	ae.Updates = r.d.updates
	ae.Intervals = r.cp.Intervals
	if err != nil {
		ae.RestoreErr = err
		ae.After = r.live
		return ae
	}
	r.live, ae.After, ae.Restored = ep, ep, true
	r.cp.Percent = 0
	r.report(StageAborted, dec)
	ae.Intervals = r.cp.Intervals
	r.printf("   %s READY: %s\n", r.c.Endpoint, DescribeTraffic(ep))
	return ae
}

// isStop reports whether err is the context ending rather than a failure.
func isStop(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// stop wraps a context error with what the endpoint keeps serving.
func (r *run) stop(err error) error {
	if r.live == nil {
		return fmt.Errorf("canary of %s on %s: %w", describe(r.cand), r.c.Endpoint, err)
	}
	return fmt.Errorf("canary of %s on %s stopped at %s: %w (the endpoint keeps %s; run again to resume)",
		describe(r.cand), r.c.Endpoint, r.cp.Stage, err, DescribeTraffic(r.live))
}
