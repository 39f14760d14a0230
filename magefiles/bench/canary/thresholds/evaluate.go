package thresholds

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Phase is the verdict on one interval.
type Phase string

// The phases, from best to worst.
const (
	PhaseSuccessful   Phase = "Successful"
	PhaseInconclusive Phase = "Inconclusive"
	PhaseError        Phase = "Error"
	PhaseFailed       Phase = "Failed"
)

// severity orders phases; an unknown phase is as bad as an Error.
func (p Phase) severity() int {
	switch p {
	case PhaseSuccessful:
		return 0
	case PhaseInconclusive:
		return 1
	case PhaseFailed:
		return 3
	}
	return 2
}

// Worst returns the worst of the given phases (Successful when none).
func Worst(phases ...Phase) Phase {
	worst := PhaseSuccessful
	for _, p := range phases {
		if p.severity() > worst.severity() {
			worst = p
		}
	}
	return worst
}

// Policy holds the thresholds one interval is judged by. Rates are fractions:
// 0.05 means 5%.
type Policy struct {
	// MaxErrorRate is the candidate's error rate that is always allowed.
	MaxErrorRate float64 `json:"max_error_rate"`
	// ErrorRateMargin is how far above the baseline's error rate the
	// candidate may go, when that is above MaxErrorRate.
	ErrorRateMargin float64 `json:"error_rate_margin"`
	// MaxLatencyRatio caps candidate p95 / baseline p95. 0 switches the
	// latency comparison off; otherwise it must be at least 1.
	MaxLatencyRatio float64 `json:"max_latency_ratio"`
	// MinRequests is the number of requests an entity must serve in an
	// interval for its numbers to be judged.
	MinRequests int `json:"min_requests"`
}

// DefaultPolicy is the policy a caller that sets none gets.
func DefaultPolicy() Policy {
	return Policy{MaxErrorRate: 0.05, ErrorRateMargin: 0.01, MaxLatencyRatio: 1.5, MinRequests: 50}
}

// Validate reports every problem with the policy.
func (p Policy) Validate() error {
	var errs []error
	fraction := func(name string, v float64) {
		if math.IsNaN(v) || v < 0 || v > 1 {
			errs = append(errs, fmt.Errorf("%s %v must be a fraction between 0 and 1 (0.05 means 5%%)", name, v))
		}
	}
	fraction("max_error_rate", p.MaxErrorRate)
	fraction("error_rate_margin", p.ErrorRateMargin)
	if r := p.MaxLatencyRatio; math.IsNaN(r) || math.IsInf(r, 0) || (r != 0 && r < 1) {
		errs = append(errs, fmt.Errorf("max_latency_ratio %v must be 0 (off) or at least 1", r))
	}
	if p.MinRequests < 0 {
		errs = append(errs, fmt.Errorf("min_requests %d must not be negative", p.MinRequests))
	}
	if len(errs) > 0 {
		return fmt.Errorf("analysis policy: %w", errors.Join(errs...))
	}
	return nil
}

// Result is the verdict on one interval with the numbers behind it.
type Result struct {
	Phase  Phase
	Reason string
	// Measurement is what was judged (rates recomputed from the counts).
	Measurement Measurement
	// ErrorRateLimit is the error rate the candidate was held to, NaN when
	// no error limit was applied.
	ErrorRateLimit float64
	// P95LimitMs is the p95 the candidate was held to, NaN when latency was
	// not compared.
	P95LimitMs float64
}

// ErrorResult records an interval that could not be measured (the export
// could not be fetched or parsed), so it counts toward the consecutive error
// limit instead of ending the rollout on the spot.
func ErrorResult(err error) Result {
	return Result{
		Phase:          PhaseError,
		Reason:         fmt.Sprintf("no measurement: %v", err),
		Measurement:    Measurement{Candidate: unknownSide(""), Baseline: unknownSide("")},
		ErrorRateLimit: math.NaN(),
		P95LimitMs:     math.NaN(),
	}
}

// Evaluate judges one interval's measurement against the policy. The rules
// and their order are in the package documentation.
func Evaluate(m Measurement, p Policy) Result {
	m.Candidate, m.Baseline = m.Candidate.withRates(), m.Baseline.withRates()
	r := Result{Measurement: m, ErrorRateLimit: math.NaN(), P95LimitMs: math.NaN()}
	if err := p.Validate(); err != nil {
		return r.verdict(PhaseError, err.Error())
	}
	if err := m.validate(); err != nil {
		return r.verdict(PhaseError, err.Error())
	}
	c, b := m.Candidate, m.Baseline
	minReq := float64(p.MinRequests)

	// The baseline's numbers count only when it served enough to mean something.
	baselineNote := ""
	useBaseline := false
	switch {
	case b.Entity == "":
		baselineNote = "no baseline"
	case b.Requests < math.Max(minReq, 1):
		baselineNote = fmt.Sprintf("baseline %q served %s requests, fewer than min_requests %d", b.Entity, count(b.Requests), p.MinRequests)
	default:
		useBaseline = true
	}

	limit := p.MaxErrorRate
	limitWhy := "max_error_rate " + pct(p.MaxErrorRate)
	if useBaseline && b.ErrorRate+p.ErrorRateMargin > limit {
		limit = b.ErrorRate + p.ErrorRateMargin
		limitWhy = fmt.Sprintf("baseline %s + margin %s", pct(b.ErrorRate), pct(p.ErrorRateMargin))
	} else if baselineNote != "" {
		limitWhy += "; " + baselineNote
	}
	r.ErrorRateLimit = limit

	if !c.Served() {
		return r.verdict(PhaseInconclusive, fmt.Sprintf("candidate %q served no requests in the interval", c.Entity))
	}
	if c.Requests < minReq {
		// More successful traffic up to min_requests cannot bring these
		// failures under the limit, so the verdict is already certain.
		allowed := limit * minReq
		if exceeds(c.Errors5xx, allowed) {
			return r.verdict(PhaseFailed, fmt.Sprintf(
				"candidate %q already has %s 5xx in %s requests, more than the %s that the %s limit allows over min_requests %d (%s)",
				c.Entity, count(c.Errors5xx), count(c.Requests), count(allowed), pct(limit), p.MinRequests, limitWhy))
		}
		return r.verdict(PhaseInconclusive, fmt.Sprintf(
			"candidate %q served %s requests, fewer than min_requests %d (error rate so far %s, limit %s)",
			c.Entity, count(c.Requests), p.MinRequests, pct(c.ErrorRate), pct(limit)))
	}

	var failed, passed []string
	if exceeds(c.ErrorRate, limit) {
		failed = append(failed, fmt.Sprintf("candidate error rate %s > limit %s (%s)", pct(c.ErrorRate), pct(limit), limitWhy))
	} else {
		passed = append(passed, fmt.Sprintf("error rate %s <= limit %s (%s)", pct(c.ErrorRate), pct(limit), limitWhy))
	}

	switch {
	case p.MaxLatencyRatio == 0:
		passed = append(passed, "latency not compared: max_latency_ratio is 0")
	case !useBaseline:
		passed = append(passed, "latency not compared: "+baselineNote)
	case !c.P95Known():
		passed = append(passed, "latency not compared: candidate p95 unknown")
	case !b.P95Known():
		passed = append(passed, "latency not compared: baseline p95 unknown")
	default:
		r.P95LimitMs = b.P95Ms * p.MaxLatencyRatio
		why := fmt.Sprintf("baseline p95 %s x max_latency_ratio %g", ms(b.P95Ms), p.MaxLatencyRatio)
		if exceeds(c.P95Ms, r.P95LimitMs) {
			failed = append(failed, fmt.Sprintf("candidate p95 %s > limit %s (%s)", ms(c.P95Ms), ms(r.P95LimitMs), why))
		} else {
			passed = append(passed, fmt.Sprintf("p95 %s <= limit %s (%s)", ms(c.P95Ms), ms(r.P95LimitMs), why))
		}
	}
	if len(failed) > 0 {
		return r.verdict(PhaseFailed, strings.Join(failed, "; "))
	}
	return r.verdict(PhaseSuccessful, strings.Join(passed, "; "))
}

func (r Result) verdict(p Phase, reason string) Result {
	r.Phase, r.Reason = p, reason
	return r
}

// exceeds is x > limit, with a relative tolerance so that a value exactly at
// the limit passes despite float rounding (0.01+0.06 is 0.0699999...).
func exceeds(x, limit float64) bool {
	return x > limit+1e-9*math.Max(math.Abs(limit), 1e-9)
}

// withRates recomputes the rates from the counts, the one source of truth.
func (s Side) withRates() Side {
	s.Rate4xx = rate(s.Errors4xx, s.Requests)
	s.Rate5xx = rate(s.Errors5xx, s.Requests)
	s.ErrorRate = s.Rate5xx
	return s
}

func unknownSide(entity string) Side {
	nan := math.NaN()
	return Side{Entity: entity, Rate4xx: nan, Rate5xx: nan, ErrorRate: nan, P95Ms: nan}
}

func (m Measurement) validate() error {
	for _, s := range []struct {
		role string
		side Side
	}{{"candidate", m.Candidate}, {"baseline", m.Baseline}} {
		for _, v := range []struct {
			name  string
			value float64
		}{{"requests", s.side.Requests}, {"4xx", s.side.Errors4xx}, {"5xx", s.side.Errors5xx}} {
			if err := checkCount(v.value); err != nil {
				return fmt.Errorf("%s %q %s: %w", s.role, s.side.Entity, v.name, err)
			}
		}
		if p := s.side.P95Ms; !math.IsNaN(p) && (p < 0 || math.IsInf(p, 0)) {
			return fmt.Errorf("%s %q p95 %v ms is not a latency", s.role, s.side.Entity, p)
		}
	}
	if m.Candidate.Entity == "" {
		return errors.New("no candidate entity named")
	}
	return nil
}
