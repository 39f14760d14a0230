package rollout

import (
	"context"
	"fmt"
)

// resume takes up the checkpoint of an earlier run: it keeps the intervals
// judged so far while the candidate still has the traffic they were judged
// at, and finishes an abort or a promotion that run had decided. The bool
// says whether the checkpoint ended the run (Run then returns the outcome
// and error as they are) or the plan's steps are walked next. A promotion
// is not finished once the candidate has lost its traffic: the canary
// starts again.
func (r *run) resume(ctx context.Context, cp Checkpoint, pos position) (*Outcome, bool, error) {
	c := r.c
	if cp.Endpoint != c.Endpoint || cp.Candidate != r.cand.Name {
		return nil, true, fmt.Errorf("canary of %s on %s: the checkpoint to resume is for %s on %s", describe(r.cand), c.Endpoint, cp.Candidate, cp.Endpoint)
	}
	// Judged intervals count again only while the candidate still has
	// the traffic it was judged at; anything else (a rollback since)
	// starts the analysis over.
	if cp.Percent == pos.weight && pos.weight > 0 {
		r.cp.Intervals = append([]Interval(nil), cp.Intervals...)
	}
	switch cp.Stage {
	case StageAborting, StageAborted:
		r.cp.Intervals = append([]Interval(nil), cp.Intervals...) // the evidence of the decision
		r.resumed = "an abort"
		r.printf("   resuming the abort decided earlier: %s\n", cp.Reason)
		return nil, true, r.abortResumed(ctx, cp)
	case StagePromoting, StagePromoted:
		if pos.weight == 0 {
			// The candidate lost its traffic since (a rollback): the
			// old verdict is not a licence to skip the canary.
			r.printf("   the checkpoint says %s, but %s serves no traffic from %s: starting the canary again\n", cp.Stage, c.Endpoint, r.cand.Name)
			return nil, false, nil
		}
		r.cp.Intervals = append([]Interval(nil), cp.Intervals...) // the evidence of the decision
		r.cp.Reason = cp.Reason
		if cp.Stage == StagePromoting && c.Until != "" && pos.weight < 100 {
			r.printf("   promotion decided earlier (%s): %s\n", cp.Reason, DescribeTraffic(r.live))
			r.cp.Stage, r.cp.Step = cp.Stage, cp.Step
			return nil, true, ErrPaused
		}
		r.resumed = "a promotion"
		r.printf("   resuming the promotion decided earlier: %s\n", cp.Reason)
		out, err := r.promote(ctx)
		return out, true, err
	}
	return nil, false, nil
}

// firstStep is the plan step to start at from where the endpoint stands:
// a candidate already serving at a step's weight is analyzed there without
// another update, one already at 100% is only promoted (tidied up). It says
// which, unless the candidate serves nothing yet.
func (r *run) firstStep(pos position) int {
	c := r.c
	steps := c.Plan.Steps
	start := 0
	switch {
	case pos.weight == 100:
		start = len(steps) - 1
		r.resumed = fmt.Sprintf("%s already serving 100%%", r.cand.Name)
	case pos.weight > 0:
		for i, s := range steps {
			if s.SetWeight == pos.weight {
				start = i
			}
		}
		r.resumed = fmt.Sprintf("%s already at %d%%", r.cand.Name, pos.weight)
	}
	switch {
	case r.resumed != "" && c.Resume != nil && c.Resume.Percent == pos.weight && (c.Resume.Stage == StageCanary || c.Resume.Stage == StageAnalysis):
		// Where the checkpoint says it stopped (a rollout run stage by
		// stage): a continuation, not a recovery.
		r.printf("   continuing from the %s checkpoint: %s\n", c.Resume.Stage, DescribeTraffic(r.live))
	case r.resumed != "":
		r.printf("   resuming: %s (%s)\n", r.resumed, DescribeTraffic(r.live))
	}
	return start
}
