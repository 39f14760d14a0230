package judge

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/servingmetrics"
)

// Config is the judgement's policy, from the bundle's canary variables.
type Config struct {
	// Alpha bounds the rate at which a candidate no worse than its baseline
	// is aborted, over the whole canary (0.01: one healthy release in 100).
	Alpha float64 `json:"alpha"`
	// MaxErrorRatio is the promotion margin: the candidate is promoted early
	// once the evidence says its error rate is below MaxErrorRatio times the
	// baseline's.
	MaxErrorRatio float64 `json:"max_error_ratio"`
	// MaxMinutes ends the canary: promote with the evidence, or report too
	// little traffic.
	MaxMinutes int `json:"max_minutes"`
	// MinRequests is how many candidate requests the canary needs by
	// MaxMinutes for a promotion without early evidence.
	MinRequests int `json:"min_requests"`
	// Latency is set when the export has latency histograms: half of Alpha
	// then goes to the latency test.
	Latency bool `json:"latency"`
}

// DefaultConfig is the bundle's default policy.
func DefaultConfig() Config {
	return Config{Alpha: 0.01, MaxErrorRatio: 1.5, MaxMinutes: 20, MinRequests: 500}
}

// Validate reports every setting out of range.
func (c Config) Validate() error {
	var errs []error
	if !(c.Alpha > 0 && c.Alpha <= 0.2) {
		errs = append(errs, fmt.Errorf("alpha %v must be in (0, 0.2]", c.Alpha))
	}
	if !(c.MaxErrorRatio > 1 && c.MaxErrorRatio <= 100) {
		errs = append(errs, fmt.Errorf("max error ratio %v must be in (1, 100]", c.MaxErrorRatio))
	}
	if c.MaxMinutes < 1 || c.MaxMinutes > 24*60 {
		errs = append(errs, fmt.Errorf("max minutes %d must be between 1 and 1440", c.MaxMinutes))
	}
	if c.MinRequests < 1 {
		errs = append(errs, fmt.Errorf("min requests %d must be at least 1", c.MinRequests))
	}
	if len(errs) > 0 {
		return fmt.Errorf("canary judgement: %w", errors.Join(errs...))
	}
	return nil
}

// errorAlpha and latencyAlpha split Alpha between the two tests.
func (c Config) errorAlpha() float64 {
	if c.Latency {
		return c.Alpha / 2
	}
	return c.Alpha
}

func (c Config) latencyAlpha() float64 { return c.Alpha / 2 }

// sequentialShare is the part of the error test's alpha the always-valid
// mixture test spends; the exact looks share the rest.
const sequentialShare = 0.25

func (c Config) sequentialAlpha() float64 { return c.errorAlpha() * sequentialShare }

// promoteLevel is the level of the early-promotion test.
const promoteLevel = 0.05

// Counts are one version's requests and errors in a minute (or in total).
type Counts struct {
	Requests  float64 `json:"requests"`
	Errors4xx float64 `json:"errors_4xx"`
	Errors5xx float64 `json:"errors_5xx"`
}

// Errors is 4xx plus 5xx, at most Requests.
func (c Counts) Errors() float64 { return math.Min(c.Errors4xx+c.Errors5xx, c.Requests) }

func (c Counts) plus(o Counts) Counts {
	return Counts{c.Requests + o.Requests, c.Errors4xx + o.Errors4xx, c.Errors5xx + o.Errors5xx}
}

// Minute is one minute of the export for the two versions.
type Minute struct {
	Start     time.Time
	Candidate Counts
	Baseline  Counts
	// CandidateLatency and BaselineLatency are the minute's histograms;
	// empty when not exported.
	CandidateLatency, BaselineLatency servingmetrics.Histogram
	// CandidateAbsent is set when the export did not list the candidate.
	CandidateAbsent bool
}

// MinuteOf picks the two entities out of an export window.
func MinuteOf(w servingmetrics.Window, candidate, baseline string) Minute {
	c, b := w.Entity(candidate), w.Entity(baseline)
	return Minute{
		Start:     w.Start,
		Candidate: Counts{c.Requests, c.Errors4xx, c.Errors5xx}, Baseline: Counts{b.Requests, b.Errors4xx, b.Errors5xx},
		CandidateLatency: c.Latency, BaselineLatency: b.Latency,
		CandidateAbsent: !w.Has(candidate),
	}
}

// abortGrid are the error-rate ratios the abort mixture weighs equally.
var abortGrid = [...]float64{1.5, 2, 3, 5, 10, 30}

// promoteGrid are the ratios, as fractions of MaxErrorRatio, the
// promotion mixture weighs equally.
var promoteGrid = [...]float64{0.75, 0.5, 1.0 / 3, 0.2}

// State is the judgement so far. Fold minutes into it with Observe.
type State struct {
	Minutes   int    `json:"minutes"`
	Candidate Counts `json:"candidate"`
	Baseline  Counts `json:"baseline"`
	// AbsentMinutes counts minutes whose export did not list the candidate.
	AbsentMinutes int `json:"absent_minutes,omitempty"`
	// SlowCandidate and SlowBaseline count requests above each minute's
	// pooled p95 bound; LatencyMinutes the minutes latency was judged in.
	SlowCandidate  float64 `json:"slow_candidate"`
	SlowBaseline   float64 `json:"slow_baseline"`
	LatencyMinutes int     `json:"latency_minutes"`

	// Looks are the exact test's looks so far.
	Looks []Look `json:"looks,omitempty"`

	// null is the exact conditional distribution, for an identical
	// candidate, of its error count so far, less the paths a look has
	// rejected; slack is the mass trimmed from it; errors and errorTotal
	// are the candidate's and the endpoint's integer error counts.
	null               dist
	slack              float64
	errors, errorTotal int

	errLR  [len(abortGrid)]float64 // log likelihood ratios per grid ratio
	latLR  [len(abortGrid)]float64
	promLR [len(promoteGrid)]float64
	// errMax and latMax are the largest mixture statistics seen (for the
	// always-valid p-values).
	errMax, latMax float64
}

// Observe folds one minute into the state and returns the new state; s is
// not changed.
func Observe(c Config, s State, m Minute) State {
	s.Minutes++
	if m.CandidateAbsent {
		s.AbsentMinutes++
	}
	cand, base := clampCounts(m.Candidate), clampCounts(m.Baseline)
	s.Candidate, s.Baseline = s.Candidate.plus(cand), s.Baseline.plus(base)
	if cand.Requests > 0 && base.Requests > 0 {
		pi := cand.Requests / (cand.Requests + base.Requests)
		x, total := cand.Errors(), cand.Errors()+base.Errors()
		update(&s.errLR, abortGrid[:], 1, pi, x, total)
		rm := c.MaxErrorRatio
		for j, g := range promoteGrid {
			s.promLR[j] += logLR(theta(g*rm, pi), theta(rm, pi), x, total)
		}
		s.errMax = math.Max(s.errMax, mixture(s.errLR[:]))
	}
	s = s.exactMinute(c, cand, base)
	if c.Latency {
		if kc, kb, ok := slow(m.CandidateLatency, m.BaselineLatency); ok {
			pi := m.CandidateLatency.Total / (m.CandidateLatency.Total + m.BaselineLatency.Total)
			update(&s.latLR, abortGrid[:], 1, pi, kc, kc+kb)
			s.SlowCandidate += kc
			s.SlowBaseline += kb
			s.LatencyMinutes++
			s.latMax = math.Max(s.latMax, mixture(s.latLR[:]))
		}
	}
	return s
}

func clampCounts(c Counts) Counts {
	c.Requests = math.Max(c.Requests, 0)
	c.Errors4xx = math.Min(math.Max(c.Errors4xx, 0), c.Requests)
	c.Errors5xx = math.Min(math.Max(c.Errors5xx, 0), c.Requests-c.Errors4xx)
	return c
}

// theta is the candidate's share of errors were its rate rho times the
// baseline's, at traffic share pi.
func theta(rho, pi float64) float64 { return rho * pi / (rho*pi + 1 - pi) }

// logLR is the log binomial likelihood ratio of x of total at share alt
// against share null.
func logLR(alt, null, x, total float64) float64 {
	if total <= 0 {
		return 0
	}
	return x*math.Log(alt/null) + (total-x)*math.Log((1-alt)/(1-null))
}

func update(lr *[len(abortGrid)]float64, grid []float64, nullRatio, pi, x, total float64) {
	if total <= 0 || pi <= 0 || pi >= 1 {
		return
	}
	null := theta(nullRatio, pi)
	for j, rho := range grid {
		lr[j] += logLR(theta(rho, pi), null, x, total)
	}
}

// mixture is the log of the equally weighted mixture of exp(lr[j]).
func mixture(lr []float64) float64 {
	top := math.Inf(-1)
	for _, v := range lr {
		top = math.Max(top, v)
	}
	sum := 0.0
	for _, v := range lr {
		sum += math.Exp(v - top)
	}
	return top + math.Log(sum/float64(len(lr)))
}

// slow counts each version's requests above the highest bucket bound that
// at least 5% of the pooled requests exceed (the pooled p95, to bucket
// precision); ok is false when there is nothing to compare.
func slow(cand, base servingmetrics.Histogram) (kc, kb float64, ok bool) {
	if cand.Empty() || base.Empty() {
		return 0, 0, false
	}
	pooled := cand.Add(base)
	if len(pooled.Bounds) == 0 {
		return 0, 0, false
	}
	// The highest bound that at least 5% of the pooled requests exceed.
	bound := pooled.Bounds[0]
	for i, n := range pooled.Counts {
		if n <= 0.95*pooled.Total {
			bound = pooled.Bounds[i]
		}
	}
	kc, kb = cand.Above(bound), base.Above(bound)
	return kc, kb, kc+kb > 0
}
