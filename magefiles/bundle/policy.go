package bundle

import (
	"fmt"
	"math"
	"sort"
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
	// AnalysisInterval is how often the canary reads the metrics export: a
	// whole number of minutes, since the export holds per-minute windows.
	AnalysisInterval time.Duration
	// Alpha bounds the rate at which a candidate no worse than the stable
	// version is aborted (0 < alpha <= 0.2).
	Alpha float64
	// MaxErrorRatio is the promotion margin: promote early once the
	// candidate's error rate is shown below this multiple of the stable's.
	MaxErrorRatio float64
	// MaxDuration ends the canary: promote with the evidence, or stop for
	// insufficient traffic (whole minutes).
	MaxDuration time.Duration
	// MinRequests is how many candidate requests the canary needs by
	// MaxDuration; fewer is insufficient traffic.
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

// ValidationPolicy is the gate a release passes before production: its
// challenger against the champion on the evaluation set and on recorded
// production requests.
type ValidationPolicy struct {
	// MinInterruptRecall is the lowest must-interrupt recall (0..1) the
	// challenger may have, whatever the champion's.
	MinInterruptRecall float64
	// ShadowRequests is how many recorded production requests are replayed
	// to the challenger (0 turns the replay off).
	ShadowRequests int
	// WarehouseID is the SQL warehouse that reads the endpoint's inference
	// table; empty skips the replay, saying so.
	WarehouseID string
}

// PolicyProblem is one invalid policy setting, named by its variable.
type PolicyProblem struct {
	Variable string
	Message  string
}

// Rollout policy variables, as declared in databricks.yml.
const (
	VarCanaryPercent    = "canary_traffic_percent"
	VarAnalysisInterval = "analysis_interval"
	VarCanaryAlpha      = "canary_alpha"
	VarMaxErrorRatio    = "canary_max_error_ratio"
	VarCanaryMaxTime    = "canary_max_duration"
	VarMinRequests      = "min_requests"
)

// RemovedRolloutVars are rollout variables a bundle may not declare, as
// they set a fixed-threshold judge this project does not have, each with
// what replaces it; a bundle that declares one fails validation with this
// explanation.
var RemovedRolloutVars = map[string]string{
	"analysis_count":     "the canary promotes on evidence or at " + VarCanaryMaxTime + ", not after a count of intervals",
	"failure_limit":      "a sequential test decides over all minutes at once; its false-abort rate is " + VarCanaryAlpha,
	"inconclusive_limit": "too little traffic is its own outcome, judged against " + VarMinRequests + " by " + VarCanaryMaxTime,
	"max_error_rate":     "errors are judged as the candidate's share of the endpoint's errors against its share of traffic; set " + VarCanaryAlpha + " and " + VarMaxErrorRatio,
	"error_rate_margin":  "the margin is a ratio now: " + VarMaxErrorRatio,
	"max_latency_ratio":  "latency is judged by the candidate's share of requests slower than the endpoint's p95, at half of " + VarCanaryAlpha,
}

// Load test policy variables.
const (
	VarLoadConcurrency  = "load_concurrency"
	VarLoadDuration     = "load_duration"
	VarLoadMaxP95Ms     = "load_max_p95_ms"
	VarLoadMaxErrorRate = "load_max_error_rate"
	VarLoadMinRPS       = "load_min_rps"
)

// Validation gate variables.
const (
	VarValidationMinRecall = "validation_min_interrupt_recall"
	VarValidationShadow    = "validation_shadow_requests"
	VarValidationWarehouse = "validation_warehouse_id"
)

// MaxShadowRequests bounds the replay: each request is one more query of
// the challenger, and the gate must stay a short step of a release.
const MaxShadowRequests = 1000

var validationVars = []string{VarValidationMinRecall, VarValidationShadow, VarValidationWarehouse}

var rolloutVars = []string{VarCanaryPercent, VarAnalysisInterval, VarCanaryAlpha, VarMaxErrorRatio, VarCanaryMaxTime, VarMinRequests}

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
	if p.AnalysisInterval < time.Minute || p.AnalysisInterval > time.Hour || p.AnalysisInterval%time.Minute != 0 {
		bad(VarAnalysisInterval, "%s must be a whole number of minutes between 1m and 60m (the metrics export holds per-minute windows), found %s", VarAnalysisInterval, p.AnalysisInterval)
	}
	if !(p.Alpha > 0 && p.Alpha <= 0.2) {
		bad(VarCanaryAlpha, "%s must be a false-abort rate in (0, 0.2], found %g", VarCanaryAlpha, p.Alpha)
	}
	if !(p.MaxErrorRatio > 1 && p.MaxErrorRatio <= 100) {
		bad(VarMaxErrorRatio, "%s must be above 1 and at most 100 (candidate error rate / stable error rate), found %g", VarMaxErrorRatio, p.MaxErrorRatio)
	}
	if p.MaxDuration < time.Minute || p.MaxDuration > 24*time.Hour || p.MaxDuration%time.Minute != 0 {
		bad(VarCanaryMaxTime, "%s must be a whole number of minutes between 1m and 24h, found %s", VarCanaryMaxTime, p.MaxDuration)
	} else if p.AnalysisInterval >= time.Minute && p.MaxDuration < p.AnalysisInterval {
		bad(VarCanaryMaxTime, "%s (%s) is shorter than %s (%s)", VarCanaryMaxTime, p.MaxDuration, VarAnalysisInterval, p.AnalysisInterval)
	}
	if p.MinRequests < 1 {
		bad(VarMinRequests, "%s must be at least 1, found %d", VarMinRequests, p.MinRequests)
	}
	return out
}

// AnalysisWindow is the longest time a canary analysis takes.
func (p RolloutPolicy) AnalysisWindow() time.Duration { return p.MaxDuration }

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

// Validate returns every setting outside its range.
func (p ValidationPolicy) Validate() []PolicyProblem {
	var out []PolicyProblem
	if !(p.MinInterruptRecall >= 0 && p.MinInterruptRecall <= 1) {
		out = append(out, PolicyProblem{Variable: VarValidationMinRecall, Message: fmt.Sprintf("%s must be a fraction in [0, 1], found %g", VarValidationMinRecall, p.MinInterruptRecall)})
	}
	if p.ShadowRequests < 0 || p.ShadowRequests > MaxShadowRequests {
		out = append(out, PolicyProblem{Variable: VarValidationShadow, Message: fmt.Sprintf("%s must be between 0 and %d, found %d", VarValidationShadow, MaxShadowRequests, p.ShadowRequests)})
	}
	return out
}

// readPolicies reads the rollout and load policies when the bundle
// declares their variables. Declaring some but not all is an error, as is
// a value of the wrong type or out of range, at the line that set it.
func (l *loader) readPolicies() {
	l.removedRolloutVars()
	if l.declaresAny(rolloutVars) && l.requireAll("rollout", rolloutVars) {
		r := &policyReader{l: l, failed: map[string]bool{}}
		p := RolloutPolicy{
			CanaryPercent:    r.int(VarCanaryPercent),
			AnalysisInterval: r.duration(VarAnalysisInterval),
			Alpha:            r.float(VarCanaryAlpha),
			MaxErrorRatio:    r.float(VarMaxErrorRatio),
			MaxDuration:      r.duration(VarCanaryMaxTime),
			MinRequests:      r.int(VarMinRequests),
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
	if l.declaresAny(validationVars) && l.requireAll("validation", validationVars) {
		r := &policyReader{l: l, failed: map[string]bool{}}
		p := ValidationPolicy{
			MinInterruptRecall: r.float(VarValidationMinRecall),
			ShadowRequests:     r.int(VarValidationShadow),
			WarehouseID:        l.b.Var(VarValidationWarehouse),
		}
		if r.report(p.Validate()) {
			l.b.Validation = &p
		}
	}
}

// removedRolloutVars reports each declared variable of the former canary
// judge, saying what replaced it.
func (l *loader) removedRolloutVars() {
	defs := l.tree.Get("variables")
	names := make([]string, 0, len(RemovedRolloutVars))
	for n := range RemovedRolloutVars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !defs.Get(n).IsValid() {
			continue
		}
		d := diag.Diagnostic{
			Severity: diag.Error,
			Summary:  fmt.Sprintf("variable %s was removed: %s", n, RemovedRolloutVars[n]),
			Detail:   "The canary is judged by a sequential test on per-minute counts; its variables are " + strings.Join(rolloutVars, ", ") + ". Delete " + n + " from the variables and from every target's overrides.",
			Paths:    []string{dyn.NewPath("variables", n).String()},
		}
		if loc := defs.Get(n).Location(); !loc.IsZero() {
			d.Locations = []diag.Location{loc}
		}
		l.add(d)
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
