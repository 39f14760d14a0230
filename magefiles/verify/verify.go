package verify

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/servingmetrics"
)

// ErrFailed is wrapped by the error Run returns when the endpoint did not
// pass: a case failed, a threshold was missed, or the metrics export did not
// show the traffic. Other errors mean verify could not run at all.
var ErrFailed = errors.New("verification failed")

// Options configure one verify run against one environment's endpoint.
type Options struct {
	// Env names the environment (dev, staging, prod): it labels the report
	// and picks the artifacts folder.
	Env      string
	Endpoint string
	// Cases are all the integration cases, usually LoadCases(DefaultCasesPath).
	Cases []Case
	// Smoke runs only the cases marked smoke.
	Smoke bool
	// CaseTimeout bounds each case; 0 leaves the SDK's request timeout.
	CaseTimeout time.Duration
	// Load, when set, runs a load test after the suite. Endpoint defaults
	// to Options.Endpoint and Requests to the first request of every case
	// (all cases, not only smoke ones, so the traffic has the full mix).
	Load *LoadConfig
	// Metrics, when set, reads the metrics export before and after the
	// traffic and checks it. Endpoint defaults to Options.Endpoint.
	Metrics *MetricsConfig
	// ArtifactsDir, when set, receives verify/<env>/junit.xml and
	// summary.json, written even when verification fails.
	ArtifactsDir string
}

var envName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// Validate reports every problem with the options before anything is sent.
func (o Options) Validate() error {
	var errs []error
	if !envName.MatchString(o.Env) {
		errs = append(errs, fmt.Errorf("environment %q: want a lowercase name such as dev, staging or prod", o.Env))
	}
	if o.Endpoint == "" {
		errs = append(errs, errors.New("endpoint name is empty"))
	}
	if err := ValidateCases(o.Cases); err != nil {
		errs = append(errs, fmt.Errorf("cases: %w", err))
	} else if o.Smoke && len(SmokeCases(o.Cases)) == 0 {
		errs = append(errs, errors.New("smoke requested but no case is marked smoke"))
	}
	if o.CaseTimeout < 0 {
		errs = append(errs, fmt.Errorf("case timeout %s is negative", o.CaseTimeout))
	}
	if o.Load != nil {
		if err := o.loadConfig().Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Metrics != nil && (o.Metrics.Settle < 0 || o.Metrics.Poll < 0) {
		errs = append(errs, errors.New("metrics settle and poll must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("verify options: %w", err)
	}
	return nil
}

func (o Options) loadConfig() LoadConfig {
	cfg := *o.Load
	if cfg.Endpoint == "" {
		cfg.Endpoint = o.Endpoint
	}
	if len(cfg.Requests) == 0 {
		cfg.Requests = FirstRequests(o.Cases)
	}
	return cfg
}

func (o Options) suiteConfig() SuiteConfig {
	cfg := SuiteConfig{Name: "integration", Endpoint: o.Endpoint, Cases: o.Cases, CaseTimeout: o.CaseTimeout}
	if o.Smoke {
		cfg.Name, cfg.Cases = "smoke", SmokeCases(o.Cases)
	}
	return cfg
}

// Run verifies an endpoint: metrics export read, integration (or smoke)
// suite, optional load test, metrics export checked. It always returns a
// report when the options are valid, and writes the artifacts when
// ArtifactsDir is set. The error wraps ErrFailed when the endpoint failed
// verification and names what failed; it wraps the context's error when the
// run was cancelled.
func Run(ctx context.Context, ep Endpoint, opts Options) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	rep := &Report{Env: opts.Env, Endpoint: opts.Endpoint, Started: time.Now()}

	var before servingmetrics.Reading
	var beforeErr error
	if opts.Metrics != nil {
		before, beforeErr = servingmetrics.Scrape(ctx, ep, metricsConfig(opts).Endpoint, rep.Started)
	}

	rep.Suite = RunSuite(ctx, ep, opts.suiteConfig())
	sent := rep.Suite.Queries

	if opts.Load != nil && ctx.Err() == nil {
		lr, err := RunLoad(ctx, ep, opts.loadConfig())
		rep.Load = &lr
		sent += lr.Answered
		if err != nil && ctx.Err() == nil {
			return rep, err // the config was validated above, so this is a bug worth surfacing
		}
	} else if opts.Load == nil {
		rep.LoadSkipped = "not requested"
	} else {
		rep.LoadSkipped = "cancelled"
	}

	switch {
	case opts.Metrics == nil:
		rep.MetricsSkipped = "not requested"
	case beforeErr != nil:
		rep.Metrics = &MetricsResult{Endpoint: metricsConfig(opts).Endpoint, Sent: sent, Err: "before the traffic: " + beforeErr.Error()}
	case ctx.Err() != nil:
		rep.MetricsSkipped = "cancelled"
	default:
		mr := VerifyMetrics(ctx, ep, metricsConfig(opts), before, rep.Started, sent)
		rep.Metrics = &mr
	}

	rep.Duration = time.Since(rep.Started)
	rep.Failures = rep.failures()
	rep.Passed = len(rep.Failures) == 0 && ctx.Err() == nil

	var runErr error
	switch {
	case ctx.Err() != nil:
		runErr = fmt.Errorf("verify %s: cancelled: %w", opts.Env, ctx.Err())
	case !rep.Passed:
		runErr = &FailedError{Env: opts.Env, Endpoint: opts.Endpoint, Failures: rep.Failures}
	}
	if opts.ArtifactsDir != "" {
		if _, err := rep.Write(opts.ArtifactsDir); err != nil {
			return rep, errors.Join(runErr, err)
		}
	}
	return rep, runErr
}

func metricsConfig(o Options) MetricsConfig {
	cfg := *o.Metrics
	if cfg.Endpoint == "" {
		cfg.Endpoint = o.Endpoint
	}
	return cfg
}

// FailedError names every part of a verify run that failed.
type FailedError struct {
	Env, Endpoint string
	Failures      []string
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("verify %s (endpoint %s) failed: %s", e.Env, e.Endpoint, strings.Join(e.Failures, "; "))
}

// Is makes errors.Is(err, ErrFailed) true.
func (e *FailedError) Is(target error) bool { return target == ErrFailed }

// failures lists what failed, one entry per part, with the detail a person
// needs to start looking.
func (r *Report) failures() []string {
	var out []string
	if names := r.Suite.Failed(); len(names) > 0 {
		first := ""
		for _, c := range r.Suite.Cases {
			if c.Outcome == Fail {
				first = fmt.Sprintf("%q: %s", c.Name, c.Message)
				break
			}
		}
		msg := fmt.Sprintf("%s: %d of %d cases failed, first %s", r.Suite.Name, len(names), len(r.Suite.Cases), first)
		if len(names) > 1 {
			msg += fmt.Sprintf(" (also: %s)", strings.Join(quoteAll(names[1:]), ", "))
		}
		out = append(out, msg)
	}
	if r.Load != nil {
		for _, c := range r.Load.Checks {
			if c.Outcome == Fail {
				out = append(out, "load: "+c.Message)
			}
		}
	}
	if r.Metrics != nil {
		if r.Metrics.Err != "" {
			out = append(out, "metrics: "+r.Metrics.Err)
		}
		for _, c := range r.Metrics.Checks {
			if c.Outcome == Fail {
				out = append(out, "metrics: "+c.Message)
			}
		}
	}
	return out
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
