package rollout

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/judge"
)

// Step is one step of a rollout. Exactly one field is set: SetWeight sends
// that share of traffic (1..99) to the candidate, Analyze judges the
// candidate over intervals, Promote moves all traffic to it. Steps are data,
// so a plan prints and is stored in a checkpoint as it is.
type Step struct {
	SetWeight int          `json:"set_weight,omitempty"`
	Analyze   *AnalyzeStep `json:"analyze,omitempty"`
	Promote   bool         `json:"promote,omitempty"`
}

// AnalyzeStep reads the metrics export every Interval (whole minutes) and
// feeds each new minute to the sequential judge until it decides.
type AnalyzeStep struct {
	Interval time.Duration `json:"interval"`
}

// SetWeight is a step that sends percent of the traffic to the candidate.
func SetWeight(percent int) Step { return Step{SetWeight: percent} }

// Analyze is a step that reads the export every interval and judges the
// candidate until the judge decides.
func Analyze(interval time.Duration) Step {
	return Step{Analyze: &AnalyzeStep{Interval: interval}}
}

// Promote is the step that sends all traffic to the candidate and removes
// the stable entity.
func Promote() Step { return Step{Promote: true} }

// String renders the step as in a plan listing.
func (s Step) String() string {
	switch {
	case s.SetWeight != 0:
		return fmt.Sprintf("setWeight %d%%", s.SetWeight)
	case s.Analyze != nil:
		return fmt.Sprintf("analyze every %s", s.Analyze.Interval)
	case s.Promote:
		return "promote"
	}
	return "empty step"
}

// Plan is how a canary is rolled out and judged: the steps, the judge's
// policy, how many failed reads of the export in a row abort, and optional
// probe traffic.
type Plan struct {
	Steps []Step       `json:"steps"`
	Judge judge.Config `json:"judge"`
	// ScrapeErrorLimit aborts once this many reads of the export in a row
	// failed; 0 means DefaultScrapeErrorLimit.
	ScrapeErrorLimit int `json:"scrape_error_limit,omitempty"`
	// Probe, when set, sends bounded traffic of its own during each
	// interval, so an endpoint with little traffic still reaches a verdict.
	Probe *Probe `json:"probe,omitempty"`
}

// Defaults used when the bundle declares no rollout policy.
const (
	DefaultCanaryPercent    = 10
	DefaultInterval         = time.Minute
	DefaultScrapeErrorLimit = 3
)

// PlanFromPolicy builds the plan of the bundle's rollout policy:
// setWeight(canary_traffic_percent), analyze(analysis_interval), promote,
// judged by canary_alpha, canary_max_error_ratio, canary_max_duration and
// min_requests. A nil policy takes the defaults (10%, 1m and
// judge.DefaultConfig).
func PlanFromPolicy(p *bundle.RolloutPolicy) Plan {
	cfg := judge.DefaultConfig()
	percent, interval := DefaultCanaryPercent, DefaultInterval
	if p != nil {
		percent, interval = p.CanaryPercent, p.AnalysisInterval
		cfg.Alpha, cfg.MaxErrorRatio, cfg.MinRequests = p.Alpha, p.MaxErrorRatio, p.MinRequests
		cfg.MaxMinutes = int(p.MaxDuration / time.Minute)
	}
	return Plan{Steps: []Step{SetWeight(percent), Analyze(interval), Promote()}, Judge: cfg}
}

// WithProbes returns the plan with probe traffic sized so that the
// candidate gets about twice min_requests by the maximum duration even when
// the endpoint gets no other traffic: the probes are routed like any
// request, so the candidate sees only its weight's share of them.
func (p Plan) WithProbes() Plan {
	weight := 100
	var interval time.Duration
	for _, s := range p.Steps {
		if s.SetWeight > 0 && s.SetWeight < weight {
			weight = s.SetWeight
		}
		if s.Analyze != nil && (interval == 0 || s.Analyze.Interval < interval) {
			interval = s.Analyze.Interval
		}
	}
	perMinute := 2 * float64(max(p.Judge.MinRequests, 1)) / float64(max(p.Judge.MaxMinutes, 1)) * 100 / float64(weight)
	need := int(math.Ceil(perMinute * max(interval.Minutes(), 1)))
	secs := max(interval.Seconds(), 1)
	p.Probe = &Probe{Rate: float64(need) / secs, Cap: min(need, MaxProbesPerInterval)}
	return p
}

// Validate reports every problem with the plan: the step list must set a
// weight, analyze at that weight before anything else changes, and end
// with Promote; the policy, limits and probe must be valid.
func (p Plan) Validate() error {
	var errs []error
	if len(p.Steps) == 0 {
		errs = append(errs, errors.New("no steps"))
	}
	weighted, analyzed := false, false
	for i, s := range p.Steps {
		kinds := 0
		if s.SetWeight != 0 {
			kinds++
			if s.SetWeight < 1 || s.SetWeight > 99 {
				errs = append(errs, fmt.Errorf("step %d: setWeight %d must be between 1 and 99 (the stable version keeps the rest)", i+1, s.SetWeight))
			}
			weighted, analyzed = true, false
		}
		if s.Analyze != nil {
			kinds++
			if !weighted {
				errs = append(errs, fmt.Errorf("step %d: analyze before any setWeight has no candidate traffic to judge", i+1))
			}
			if s.Analyze.Interval < time.Minute || s.Analyze.Interval%time.Minute != 0 {
				errs = append(errs, fmt.Errorf("step %d: analyze interval %s must be a whole number of minutes (the export holds per-minute windows)", i+1, s.Analyze.Interval))
			}
			analyzed = true
		}
		if s.Promote {
			kinds++
			if i != len(p.Steps)-1 {
				errs = append(errs, fmt.Errorf("step %d: promote must be the last step", i+1))
			}
		}
		if kinds != 1 {
			errs = append(errs, fmt.Errorf("step %d: a step sets exactly one of set_weight, analyze, promote", i+1))
		}
		// Every weight is judged before traffic moves on: an unjudged weight
		// would put more users on a candidate nobody looked at.
		if s.SetWeight != 0 && i+1 < len(p.Steps) && p.Steps[i+1].Analyze == nil {
			errs = append(errs, fmt.Errorf("step %d: setWeight %d must be followed by analyze", i+1, s.SetWeight))
		}
	}
	if n := len(p.Steps); n > 0 && !p.Steps[n-1].Promote {
		errs = append(errs, errors.New("the last step must be promote"))
	}
	if !analyzed && weighted {
		errs = append(errs, errors.New("the last weight is never analyzed"))
	}
	if err := p.Judge.Validate(); err != nil {
		errs = append(errs, err)
	}
	if p.ScrapeErrorLimit < 0 {
		errs = append(errs, fmt.Errorf("scrape error limit %d must not be negative", p.ScrapeErrorLimit))
	}
	if p.Probe != nil {
		if err := p.Probe.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("rollout plan: %w", errors.Join(errs...))
	}
	return nil
}
