package judge

import (
	"fmt"
	"math"
)

// Outcome is what the canary does next.
type Outcome string

// The outcomes.
const (
	Continue            Outcome = "Continue"
	Promote             Outcome = "Promote"
	Abort               Outcome = "Abort"
	InsufficientTraffic Outcome = "InsufficientTraffic"
)

// Final reports whether the outcome ends the canary.
func (o Outcome) Final() bool { return o != Continue }

// Decision is the verdict after the minutes so far, with the evidence.
type Decision struct {
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason"`
	Evidence
}

// Evidence is what the release record keeps of a judgement.
type Evidence struct {
	Minutes   int    `json:"minutes"`
	Candidate Counts `json:"candidate"`
	Baseline  Counts `json:"baseline"`
	// TrafficShare, ErrorShare, Share4xx and Share5xx are the candidate's
	// shares of the requests and of the errors (null when none).
	TrafficShare *float64 `json:"traffic_share"`
	ErrorShare   *float64 `json:"error_share"`
	Share4xx     *float64 `json:"share_4xx"`
	Share5xx     *float64 `json:"share_5xx"`
	// ErrorStat is the log mixture likelihood ratio of the error test;
	// AbortAt its abort boundary log(1/alpha); PromoteStat and PromoteAt
	// the early-promotion test's.
	ErrorStat   float64 `json:"error_stat"`
	AbortAt     float64 `json:"abort_at"`
	PromoteStat float64 `json:"promote_stat"`
	PromoteAt   float64 `json:"promote_at"`
	// ErrorP is the error test's always-valid p-value.
	ErrorP float64 `json:"error_p"`
	// Looks are the exact test's looks so far.
	Looks []Look `json:"looks,omitempty"`
	// Latency is "judged", or why not ("not exported by this workspace").
	Latency        string   `json:"latency"`
	LatencyStat    *float64 `json:"latency_stat,omitempty"`
	LatencyAbortAt *float64 `json:"latency_abort_at,omitempty"`
	LatencyP       *float64 `json:"latency_p,omitempty"`
	SlowCandidate  float64  `json:"slow_candidate,omitempty"`
	SlowBaseline   float64  `json:"slow_baseline,omitempty"`
	// Ratio is the estimated candidate/baseline error-rate ratio with a
	// fixed-sample 95% interval, for a person to read.
	Ratio     *float64 `json:"error_ratio"`
	RatioLow  *float64 `json:"error_ratio_low"`
	RatioHigh *float64 `json:"error_ratio_high"`
	// AbsentMinutes counts minutes the export did not list the candidate.
	AbsentMinutes int     `json:"absent_minutes,omitempty"`
	Alpha         float64 `json:"alpha"`
}

// LatencyNotExported is the latency line when the workspace exports none.
const LatencyNotExported = "not exported by this workspace"

// Decide judges the state. Invalid configuration aborts: a canary that
// cannot tell when to stop must not go on.
func Decide(c Config, s State) Decision {
	d := Decision{Evidence: evidence(c, s)}
	if err := c.Validate(); err != nil {
		d.Outcome, d.Reason = Abort, err.Error()
		return d
	}
	e := d.Evidence
	switch {
	case e.ErrorStat >= e.AbortAt:
		d.Outcome = Abort
		d.Reason = fmt.Sprintf("the candidate's share of errors %s is above its share of traffic %s beyond chance: log-LR %.2f crossed %.2f (always-valid p %.4f < alpha %g)",
			pct(e.ErrorShare), pct(e.TrafficShare), e.ErrorStat, e.AbortAt, e.ErrorP, c.sequentialAlpha())
	case rejected(e.Looks) != nil:
		l := rejected(e.Looks)
		d.Outcome = Abort
		d.Reason = fmt.Sprintf("the candidate has %d of the endpoint's %d errors in %d minutes at %s of the traffic; an identical candidate reaches %d with probability %.2g <= %.2g (exact look at minute %d)",
			l.Errors, l.Total, l.Minute, pct(e.TrafficShare), l.Boundary, l.P, l.Level, l.Minute)
	case e.LatencyStat != nil && *e.LatencyStat >= *e.LatencyAbortAt:
		d.Outcome = Abort
		d.Reason = fmt.Sprintf("the candidate has %s of the %s requests slower than the endpoint's p95, at %s of the traffic: log-LR %.2f crossed %.2f",
			count(s.SlowCandidate), count(s.SlowCandidate+s.SlowBaseline), pct(e.TrafficShare), *e.LatencyStat, *e.LatencyAbortAt)
	case e.PromoteStat >= e.PromoteAt:
		d.Outcome = Promote
		d.Reason = fmt.Sprintf("the evidence says the candidate's error rate is below %g x the baseline's (log-LR %.2f crossed %.2f)", c.MaxErrorRatio, e.PromoteStat, e.PromoteAt)
	case s.Minutes >= c.MaxMinutes && s.Candidate.Requests < float64(c.MinRequests):
		d.Outcome = InsufficientTraffic
		d.Reason = fmt.Sprintf("insufficient traffic: %s candidate requests in %d minutes, fewer than the %d needed",
			count(s.Candidate.Requests), s.Minutes, c.MinRequests)
	case s.Minutes >= c.MaxMinutes:
		d.Outcome = Promote
		d.Reason = fmt.Sprintf("%d minutes without evidence against the candidate (%s candidate requests)", s.Minutes, count(s.Candidate.Requests))
	default:
		d.Outcome = Continue
		d.Reason = fmt.Sprintf("minute %d of at most %d", s.Minutes, c.MaxMinutes)
	}
	return d
}

// rejected is the look that rejected, if any.
func rejected(looks []Look) *Look {
	for i := range looks {
		if looks[i].Rejected {
			return &looks[i]
		}
	}
	return nil
}

func evidence(c Config, s State) Evidence {
	e := Evidence{
		Minutes: s.Minutes, Candidate: s.Candidate, Baseline: s.Baseline, AbsentMinutes: s.AbsentMinutes, Alpha: c.Alpha,
		TrafficShare: share(s.Candidate.Requests, s.Baseline.Requests),
		ErrorShare:   share(s.Candidate.Errors(), s.Baseline.Errors()),
		Share4xx:     share(s.Candidate.Errors4xx, s.Baseline.Errors4xx),
		Share5xx:     share(s.Candidate.Errors5xx, s.Baseline.Errors5xx),
		ErrorStat:    mixture(s.errLR[:]),
		AbortAt:      math.Log(1 / c.sequentialAlpha()),
		Looks:        s.Looks,
		PromoteStat:  mixture(s.promLR[:]),
		PromoteAt:    math.Log(1 / promoteLevel),
		ErrorP:       math.Min(1, math.Exp(-s.errMax)),
		Latency:      LatencyNotExported,
	}
	if c.Latency {
		e.Latency = "judged on requests slower than the endpoint's p95"
		stat, at, p := mixture(s.latLR[:]), math.Log(1/c.latencyAlpha()), math.Min(1, math.Exp(-s.latMax))
		e.LatencyStat, e.LatencyAbortAt, e.LatencyP = &stat, &at, &p
		e.SlowCandidate, e.SlowBaseline = s.SlowCandidate, s.SlowBaseline
	}
	e.Ratio, e.RatioLow, e.RatioHigh = ratio(s.Candidate, s.Baseline)
	return e
}

// ratio estimates (errors_c/requests_c)/(errors_b/requests_b) with a 95%
// interval by the Katz log method, adding 0.5 to zero error counts.
func ratio(c, b Counts) (est, lo, hi *float64) {
	if c.Requests <= 0 || b.Requests <= 0 {
		return nil, nil, nil
	}
	ec, eb := c.Errors(), b.Errors()
	if ec == 0 && eb == 0 {
		return nil, nil, nil // no errors at all: no ratio to estimate
	}
	if ec == 0 || eb == 0 {
		ec, eb = ec+0.5, eb+0.5
	}
	r := (ec / c.Requests) / (eb / b.Requests)
	se := math.Sqrt(math.Max(1/ec-1/c.Requests+1/eb-1/b.Requests, 0))
	l, h := r*math.Exp(-1.96*se), r*math.Exp(1.96*se)
	return &r, &l, &h
}

func share(part, other float64) *float64 {
	if part+other <= 0 {
		return nil
	}
	v := part / (part + other)
	return &v
}
