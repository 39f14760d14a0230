package thresholds

import (
	"errors"
	"fmt"
	"strings"
)

// Limits say how many interval results of each kind end the analysis.
// Every limit counts "reached": FailureLimit 1 aborts on the first failure.
type Limits struct {
	// Count is the number of successful intervals that promote.
	Count int `json:"count"`
	// FailureLimit aborts once this many intervals failed, in total.
	FailureLimit int `json:"failure_limit"`
	// InconclusiveLimit aborts once this many intervals were inconclusive,
	// in total: a canary that cannot be judged is not promoted.
	InconclusiveLimit int `json:"inconclusive_limit"`
	// ConsecutiveErrorLimit aborts once this many intervals in a row could
	// not be measured.
	ConsecutiveErrorLimit int `json:"consecutive_error_limit"`
}

// DefaultLimits are the limits a caller that sets none gets.
func DefaultLimits() Limits {
	return Limits{Count: 3, FailureLimit: 2, InconclusiveLimit: 3, ConsecutiveErrorLimit: 3}
}

// Validate reports every limit below 1.
func (l Limits) Validate() error {
	var errs []error
	for _, f := range []struct {
		name  string
		value int
	}{
		{"count", l.Count},
		{"failure_limit", l.FailureLimit},
		{"inconclusive_limit", l.InconclusiveLimit},
		{"consecutive_error_limit", l.ConsecutiveErrorLimit},
	} {
		if f.value < 1 {
			errs = append(errs, fmt.Errorf("%s %d must be at least 1", f.name, f.value))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("analysis limits: %w", errors.Join(errs...))
	}
	return nil
}

// Action is what a rollout judged by these limits does next.
type Action string

// The actions.
const (
	ActionContinue Action = "Continue"
	ActionPromote  Action = "Promote"
	ActionAbort    Action = "Abort"
)

// Decision is the fold of all interval results so far.
type Decision struct {
	Action            Action `json:"action"`
	Reason            string `json:"reason"`
	Intervals         int    `json:"intervals"`
	Successful        int    `json:"successful"`
	Failed            int    `json:"failed"`
	Inconclusive      int    `json:"inconclusive"`
	Errors            int    `json:"errors"`
	ConsecutiveErrors int    `json:"consecutive_errors"`
	// Worst is the worst phase among the results.
	Worst Phase `json:"worst"`
}

// Decide folds the results of the intervals so far, oldest first, into the
// next action. Worst phase wins: failures, then errors, then inconclusive
// results abort before successes can promote. Invalid limits abort, since a
// rollout that cannot tell when to stop must not go on.
func Decide(results []Result, limits Limits) Decision {
	d := Decision{Intervals: len(results), Worst: PhaseSuccessful}
	phases := make([]Phase, len(results))
	for i, r := range results {
		phases[i] = r.Phase
		switch r.Phase {
		case PhaseSuccessful:
			d.Successful++
			d.ConsecutiveErrors = 0
		case PhaseFailed:
			d.Failed++
			d.ConsecutiveErrors = 0
		case PhaseInconclusive:
			d.Inconclusive++
			d.ConsecutiveErrors = 0
		default: // Error, or a phase this code does not know: not a measurement
			d.Errors++
			d.ConsecutiveErrors++
		}
	}
	d.Worst = Worst(phases...)
	if err := limits.Validate(); err != nil {
		d.Action, d.Reason = ActionAbort, err.Error()
		return d
	}

	// Checked worst first; the first abort names the phase whose last reason is quoted.
	var aborts []string
	var cause Phase
	abort := func(p Phase, format string, args ...any) {
		if cause == "" {
			cause = p
		}
		aborts = append(aborts, fmt.Sprintf(format, args...))
	}
	if d.Failed >= limits.FailureLimit {
		abort(PhaseFailed, "%d failed intervals reached failure_limit %d", d.Failed, limits.FailureLimit)
	}
	if d.ConsecutiveErrors >= limits.ConsecutiveErrorLimit {
		abort(PhaseError, "%d intervals in a row could not be measured, reaching consecutive_error_limit %d", d.ConsecutiveErrors, limits.ConsecutiveErrorLimit)
	}
	if d.Inconclusive >= limits.InconclusiveLimit {
		abort(PhaseInconclusive, "%d inconclusive intervals reached inconclusive_limit %d", d.Inconclusive, limits.InconclusiveLimit)
	}
	if len(aborts) > 0 {
		d.Action = ActionAbort
		d.Reason = strings.Join(aborts, "; ")
		if last := lastReason(results, cause); last != "" {
			d.Reason += " (last " + strings.ToLower(string(cause)) + ": " + last + ")"
		}
		return d
	}
	if d.Successful >= limits.Count {
		d.Action = ActionPromote
		d.Reason = fmt.Sprintf("%d successful intervals reached count %d", d.Successful, limits.Count)
		return d
	}
	d.Action = ActionContinue
	d.Reason = fmt.Sprintf("%d/%d successful, %d/%d failed, %d/%d inconclusive, %d/%d errors in a row",
		d.Successful, limits.Count, d.Failed, limits.FailureLimit, d.Inconclusive, limits.InconclusiveLimit,
		d.ConsecutiveErrors, limits.ConsecutiveErrorLimit)
	return d
}

// lastReason is the reason of the most recent result with the given phase.
func lastReason(results []Result, p Phase) string {
	for i := len(results) - 1; i >= 0; i-- {
		if results[i].Phase == p {
			return results[i].Reason
		}
	}
	return ""
}

// String renders the decision as one line.
func (d Decision) String() string {
	return fmt.Sprintf("%s: %s", d.Action, d.Reason)
}
