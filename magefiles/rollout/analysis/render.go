package analysis

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Line renders one interval as a single human line, for printing live:
//
//	Failed: candidate "v2" 412 req, 5xx 20.15%, 4xx 0.49%, p95 182.0ms | baseline "v1" 3700 req, ... | candidate error rate 20.15% > limit 5.00% (max_error_rate 5.00%)
func (r Result) Line() string {
	var b strings.Builder
	b.WriteString(string(r.Phase))
	b.WriteString(": ")
	if r.Measurement.Candidate.Entity != "" {
		b.WriteString(sideLine("candidate", r.Measurement.Candidate))
		b.WriteString(" | ")
		if r.Measurement.Baseline.Entity != "" {
			b.WriteString(sideLine("baseline", r.Measurement.Baseline))
		} else {
			b.WriteString("no baseline")
		}
		b.WriteString(" | ")
	}
	b.WriteString(r.Reason)
	return b.String()
}

func sideLine(role string, s Side) string {
	line := fmt.Sprintf("%s %q %s req, 5xx %s, 4xx %s, p95 %s", role, s.Entity, count(s.Requests), pct(s.Rate5xx), pct(s.Rate4xx), ms(s.P95Ms))
	if s.Reset {
		line += " (counter reset)"
	}
	return line
}

// Evidence is one interval's result in a form fit for JSON (the release
// record): unknown numbers are null instead of NaN.
type Evidence struct {
	Phase  Phase  `json:"phase"`
	Reason string `json:"reason"`
	// Candidate and Baseline are absent when nothing was measured.
	Candidate *SideEvidence `json:"candidate,omitempty"`
	Baseline  *SideEvidence `json:"baseline,omitempty"`
	// ErrorRateLimit and P95LimitMs are the limits applied, null when not.
	ErrorRateLimit *float64 `json:"error_rate_limit"`
	P95LimitMs     *float64 `json:"p95_limit_ms"`
}

// SideEvidence is one entity's numbers in Evidence. Rates are fractions.
type SideEvidence struct {
	Entity       string   `json:"entity"`
	Requests     float64  `json:"requests"`
	Errors4xx    float64  `json:"errors_4xx"`
	Errors5xx    float64  `json:"errors_5xx"`
	Rate4xx      *float64 `json:"rate_4xx"`
	Rate5xx      *float64 `json:"rate_5xx"`
	ErrorRate    *float64 `json:"error_rate"`
	P95Ms        *float64 `json:"p95_ms"`
	CounterReset bool     `json:"counter_reset,omitempty"`
}

// Evidence returns the JSON form of the result.
func (r Result) Evidence() Evidence {
	e := Evidence{
		Phase:          r.Phase,
		Reason:         r.Reason,
		ErrorRateLimit: known(r.ErrorRateLimit),
		P95LimitMs:     known(r.P95LimitMs),
	}
	if r.Measurement.Candidate.Entity != "" {
		e.Candidate = sideEvidence(r.Measurement.Candidate)
	}
	if r.Measurement.Baseline.Entity != "" {
		e.Baseline = sideEvidence(r.Measurement.Baseline)
	}
	return e
}

// MarshalJSON encodes the result as its Evidence, so a Result stored in a
// record never fails on NaN. Decode into Evidence to read it back.
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(r.Evidence())
}

func sideEvidence(s Side) *SideEvidence {
	return &SideEvidence{
		Entity:       s.Entity,
		Requests:     s.Requests,
		Errors4xx:    s.Errors4xx,
		Errors5xx:    s.Errors5xx,
		Rate4xx:      known(s.Rate4xx),
		Rate5xx:      known(s.Rate5xx),
		ErrorRate:    known(s.ErrorRate),
		P95Ms:        known(s.P95Ms),
		CounterReset: s.Reset,
	}
}

// known returns nil for NaN and infinities, which JSON cannot carry.
func known(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return strconv.FormatFloat(v*100, 'f', 2, 64) + "%"
}

func ms(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
}

// count prints whole counts without decimals and anything else compactly.
func count(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
