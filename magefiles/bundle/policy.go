package bundle

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/dyn"
)

// RolloutPolicy is how a canary is rolled out and judged, read from the
// bundle's variables so each target can tune it.
type RolloutPolicy struct {
	// CanaryPercent is the share of traffic the canary gets (1..99).
	CanaryPercent int
	// AnalysisInterval is the time between two analyses.
	AnalysisInterval time.Duration
	// AnalysisCount is how many analyses must pass before promotion.
	AnalysisCount int
	// FailureLimit is how many consecutive failed analyses abort.
	FailureLimit int
	// InconclusiveLimit is how many consecutive inconclusive analyses
	// (too little traffic) abort.
	InconclusiveLimit int
	// MaxErrorRate is the highest error rate the canary may have (0..1).
	MaxErrorRate float64
	// ErrorRateMargin is how much worse than the baseline the canary's
	// error rate may be.
	ErrorRateMargin float64
	// MaxLatencyRatio bounds canary p95 latency / baseline p95 (>= 1).
	MaxLatencyRatio float64
	// MinRequests is the fewest canary requests an analysis needs to
	// decide; fewer make it inconclusive.
	MinRequests int
}

// LoadPolicy is the load test run against an endpoint and its thresholds.
type LoadPolicy struct {
	// Concurrency is the number of parallel clients (1..256).
	Concurrency int
	// Duration is how long the load runs.
	Duration time.Duration
	// MaxP95 is the highest acceptable 95th percentile latency.
	MaxP95 time.Duration
	// MaxErrorRate is the highest acceptable error rate (0..1).
	MaxErrorRate float64
	// MinRPS is the lowest acceptable throughput in requests per second.
	MinRPS float64
}

// PolicyProblem is one invalid policy setting, named by its variable.
type PolicyProblem struct {
	Variable string
	Message  string
}

// Rollout policy variables, as declared in databricks.yml.
const (
	VarCanaryPercent     = "canary_traffic_percent"
	VarAnalysisInterval  = "analysis_interval"
	VarAnalysisCount     = "analysis_count"
	VarFailureLimit      = "failure_limit"
	VarInconclusiveLimit = "inconclusive_limit"
	VarMaxErrorRate      = "max_error_rate"
	VarErrorRateMargin   = "error_rate_margin"
	VarMaxLatencyRatio   = "max_latency_ratio"
	VarMinRequests       = "min_requests"
)

// Load test policy variables.
const (
	VarLoadConcurrency  = "load_concurrency"
	VarLoadDuration     = "load_duration"
	VarLoadMaxP95Ms     = "load_max_p95_ms"
	VarLoadMaxErrorRate = "load_max_error_rate"
	VarLoadMinRPS       = "load_min_rps"
)

var rolloutVars = []string{
	VarCanaryPercent, VarAnalysisInterval, VarAnalysisCount, VarFailureLimit, VarInconclusiveLimit,
	VarMaxErrorRate, VarErrorRateMargin, VarMaxLatencyRatio, VarMinRequests,
}

var loadVars = []string{VarLoadConcurrency, VarLoadDuration, VarLoadMaxP95Ms, VarLoadMaxErrorRate, VarLoadMinRPS}

// Validate returns every setting outside its range.
func (p RolloutPolicy) Validate() []PolicyProblem {
	var out []PolicyProblem
	bad := func(v, format string, args ...any) {
		out = append(out, PolicyProblem{Variable: v, Message: fmt.Sprintf(format, args...)})
	}
	if p.CanaryPercent < 1 || p.CanaryPercent > 99 {
		bad(VarCanaryPercent, "%s must be between 1 and 99, found %d", VarCanaryPercent, p.CanaryPercent)
	}
	if p.AnalysisInterval < time.Second || p.AnalysisInterval > time.Hour {
		bad(VarAnalysisInterval, "%s must be between 1s and 1h, found %s", VarAnalysisInterval, p.AnalysisInterval)
	}
	if p.AnalysisCount < 1 || p.AnalysisCount > 100 {
		bad(VarAnalysisCount, "%s must be between 1 and 100, found %d", VarAnalysisCount, p.AnalysisCount)
	}
	if p.FailureLimit < 1 {
		bad(VarFailureLimit, "%s must be at least 1, found %d", VarFailureLimit, p.FailureLimit)
	} else if p.AnalysisCount >= 1 && p.FailureLimit > p.AnalysisCount {
		bad(VarFailureLimit, "%s (%d) exceeds %s (%d): a failing canary could never be aborted", VarFailureLimit, p.FailureLimit, VarAnalysisCount, p.AnalysisCount)
	}
	if p.InconclusiveLimit < 1 {
		bad(VarInconclusiveLimit, "%s must be at least 1, found %d", VarInconclusiveLimit, p.InconclusiveLimit)
	} else if p.AnalysisCount >= 1 && p.InconclusiveLimit > p.AnalysisCount {
		bad(VarInconclusiveLimit, "%s (%d) exceeds %s (%d): a canary without traffic could never be aborted", VarInconclusiveLimit, p.InconclusiveLimit, VarAnalysisCount, p.AnalysisCount)
	}
	if !(p.MaxErrorRate >= 0 && p.MaxErrorRate < 1) {
		bad(VarMaxErrorRate, "%s must be a fraction in [0, 1), found %g", VarMaxErrorRate, p.MaxErrorRate)
	}
	if !(p.ErrorRateMargin >= 0 && p.ErrorRateMargin < 1) {
		bad(VarErrorRateMargin, "%s must be a fraction in [0, 1), found %g", VarErrorRateMargin, p.ErrorRateMargin)
	}
	if !(p.MaxLatencyRatio >= 1 && p.MaxLatencyRatio <= 100) {
		bad(VarMaxLatencyRatio, "%s must be between 1 and 100 (canary p95 / baseline p95), found %g", VarMaxLatencyRatio, p.MaxLatencyRatio)
	}
	if p.MinRequests < 1 {
		bad(VarMinRequests, "%s must be at least 1, found %d", VarMinRequests, p.MinRequests)
	}
	return out
}

// AnalysisWindow is the shortest time a full canary analysis takes.
func (p RolloutPolicy) AnalysisWindow() time.Duration {
	return time.Duration(p.AnalysisCount) * p.AnalysisInterval
}

// Validate returns every setting outside its range.
func (p LoadPolicy) Validate() []PolicyProblem {
	var out []PolicyProblem
	bad := func(v, format string, args ...any) {
		out = append(out, PolicyProblem{Variable: v, Message: fmt.Sprintf(format, args...)})
	}
	if p.Concurrency < 1 || p.Concurrency > 256 {
		bad(VarLoadConcurrency, "%s must be between 1 and 256, found %d", VarLoadConcurrency, p.Concurrency)
	}
	if p.Duration < time.Second || p.Duration > 30*time.Minute {
		bad(VarLoadDuration, "%s must be between 1s and 30m, found %s", VarLoadDuration, p.Duration)
	}
	if p.MaxP95 < time.Millisecond {
		bad(VarLoadMaxP95Ms, "%s must be at least 1 (milliseconds), found %d", VarLoadMaxP95Ms, p.MaxP95.Milliseconds())
	}
	if !(p.MaxErrorRate >= 0 && p.MaxErrorRate < 1) {
		bad(VarLoadMaxErrorRate, "%s must be a fraction in [0, 1), found %g", VarLoadMaxErrorRate, p.MaxErrorRate)
	}
	if !(p.MinRPS >= 0) || math.IsInf(p.MinRPS, 0) {
		bad(VarLoadMinRPS, "%s must be zero or more, found %g", VarLoadMinRPS, p.MinRPS)
	}
	return out
}

// readPolicies reads the rollout and load policies when the bundle
// declares their variables. Declaring some but not all is an error, as is
// a value of the wrong type or out of range, at the line that set it.
func (l *loader) readPolicies() {
	if l.declaresAny(rolloutVars) && l.requireAll("rollout", rolloutVars) {
		r := &policyReader{l: l, failed: map[string]bool{}}
		p := RolloutPolicy{
			CanaryPercent:     r.int(VarCanaryPercent),
			AnalysisInterval:  r.duration(VarAnalysisInterval),
			AnalysisCount:     r.int(VarAnalysisCount),
			FailureLimit:      r.int(VarFailureLimit),
			InconclusiveLimit: r.int(VarInconclusiveLimit),
			MaxErrorRate:      r.float(VarMaxErrorRate),
			ErrorRateMargin:   r.float(VarErrorRateMargin),
			MaxLatencyRatio:   r.float(VarMaxLatencyRatio),
			MinRequests:       r.int(VarMinRequests),
		}
		if r.report(p.Validate()) {
			l.b.Rollout = &p
		}
	}
	if l.declaresAny(loadVars) && l.requireAll("load test", loadVars) {
		r := &policyReader{l: l, failed: map[string]bool{}}
		p := LoadPolicy{
			Concurrency:  r.int(VarLoadConcurrency),
			Duration:     r.duration(VarLoadDuration),
			MaxP95:       time.Duration(r.int(VarLoadMaxP95Ms)) * time.Millisecond,
			MaxErrorRate: r.float(VarLoadMaxErrorRate),
			MinRPS:       r.float(VarLoadMinRPS),
		}
		if r.report(p.Validate()) {
			l.b.LoadTest = &p
		}
	}
}

func (l *loader) declaresAny(names []string) bool {
	defs := l.tree.Get("variables")
	for _, n := range names {
		if defs.Get(n).IsValid() {
			return true
		}
	}
	return false
}

func (l *loader) requireAll(what string, names []string) bool {
	defs := l.tree.Get("variables")
	var missing []string
	for _, n := range names {
		if !defs.Get(n).IsValid() {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return true
	}
	pair, _ := l.rootPair("variables")
	l.add(diag.Diagnostic{
		Severity:  diag.Error,
		Summary:   fmt.Sprintf("the %s policy is incomplete: declare variables %s", what, strings.Join(missing, ", ")),
		Detail:    "The bundle declares some " + what + " policy variables; the stages that read them need all of: " + strings.Join(names, ", ") + ".",
		Locations: []diag.Location{pair.Key.Location()},
		Paths:     []string{"variables"},
	})
	return false
}

// variableError reports a problem with a variable's value at the place
// the value came from.
func (l *loader) variableError(name, summary string) {
	d := diag.Diagnostic{
		Severity: diag.Error,
		Summary:  summary,
		Paths:    []string{dyn.NewPath("variables", name).String()},
	}
	if v, ok := l.b.Variables[name]; ok {
		if v.Location.IsZero() {
			d.Detail = "The value was set by " + v.Source + "."
		} else {
			d.Locations = []diag.Location{v.Location}
			if v.Source != "default" {
				d.Detail = "The value comes from " + v.Source + "."
			}
		}
	}
	l.add(d)
}

// policyReader reads policy variables, remembering which could not be
// read so their range checks are skipped (one diagnostic per variable).
type policyReader struct {
	l      *loader
	failed map[string]bool
}

func (r *policyReader) value(name string) (any, bool) {
	v, ok := r.l.b.Variables[name]
	if !ok {
		// No value: defineVariables reported it.
		r.failed[name] = true
		return nil, false
	}
	return v.Value, true
}

func (r *policyReader) fail(name, want string, x any) {
	r.failed[name] = true
	r.l.variableError(name, fmt.Sprintf("variable %s must be %s, found %s", name, want, quoteValue(x)))
}

// report turns range problems of readable variables into diagnostics and
// says whether the policy is usable.
func (r *policyReader) report(problems []PolicyProblem) bool {
	ok := len(r.failed) == 0
	for _, p := range problems {
		if r.failed[p.Variable] {
			continue
		}
		ok = false
		r.l.variableError(p.Variable, p.Message)
	}
	return ok
}

func (r *policyReader) int(name string) int {
	x, ok := r.value(name)
	if !ok {
		return 0
	}
	n, ok := asInt(x)
	if !ok {
		r.fail(name, "an integer", x)
	}
	return n
}

func (r *policyReader) float(name string) float64 {
	x, ok := r.value(name)
	if !ok {
		return 0
	}
	f, ok := asFloat(x)
	if !ok {
		r.fail(name, "a number", x)
	}
	return f
}

func (r *policyReader) duration(name string) time.Duration {
	x, ok := r.value(name)
	if !ok {
		return 0
	}
	d, ok := asDuration(x)
	if !ok {
		r.fail(name, "a duration such as 60s or 2m", x)
	}
	return d
}

func asInt(x any) (int, bool) {
	switch v := x.(type) {
	case int64:
		if v > math.MaxInt32 || v < math.MinInt32 {
			return 0, false
		}
		return int(v), true
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > math.MaxInt32 {
			return 0, false
		}
		return int(v), true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		return int(n), err == nil
	}
	return 0, false
}

func asFloat(x any) (float64, bool) {
	switch v := x.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, !math.IsNaN(v)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil && !math.IsNaN(f)
	}
	return 0, false
}

func asBool(x any) (bool, bool) {
	switch v := x.(type) {
	case bool:
		return v, true
	case string:
		switch v {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// asDuration reads a Go duration ("60s") or a number of seconds.
func asDuration(x any) (time.Duration, bool) {
	if s, ok := x.(string); ok {
		s = strings.TrimSpace(s)
		if d, err := time.ParseDuration(s); err == nil {
			return d, true
		}
	}
	if f, ok := asFloat(x); ok && f >= 0 && f < float64(math.MaxInt64/int64(time.Second)) {
		return time.Duration(f * float64(time.Second)), true
	}
	return 0, false
}

func quoteValue(x any) string {
	switch v := x.(type) {
	case nil:
		return "no value"
	case string:
		return strconv.Quote(v)
	case map[string]any:
		return "a map"
	case []any:
		return "a sequence"
	default:
		return fmt.Sprint(v)
	}
}
