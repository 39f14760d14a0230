package cd

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/verify"
)

// FindRelease picks the record verify reports into: the environment's
// latest deploy. When HEAD carries a release tag, it must be that release,
// so a pipeline never verifies one release and promotes another.
type FindRelease struct{}

// Name implements Stage.
func (FindRelease) Name() string { return "find-release" }

// Run implements Stage.
func (FindRelease) Run(ctx context.Context, s *State) error {
	rec, err := s.Journal.LatestWhere(ctx, func(r *release.Record) bool {
		return r.Kind == release.KindDeploy || r.Kind == release.KindRollback
	})
	if errors.Is(err, release.ErrNoRecord) {
		return fmt.Errorf("%s has no deploy record: run deploy:%s first", s.Config.Env, s.Config.Env)
	}
	if err != nil {
		return err
	}
	switch rec.Outcome {
	case release.OutcomeInProgress, release.OutcomeFailed, release.OutcomeAborted, release.OutcomeRolledBack, release.OutcomeSuperseded:
		return fmt.Errorf("the latest %s to %s (%s, record %s) is %s: nothing new to verify; re-run deploy:%s", rec.Kind, s.Config.Env, rec.Release, rec.ID, rec.Outcome, s.Config.Env)
	}
	if id, err := release.ResolveIdentity(ctx, release.Git{Dir: s.Root}, release.IdentityOptions{Env: s.Config.Env.Name()}); err == nil {
		s.Release = id
		if id.Tag != rec.Release {
			return fmt.Errorf("HEAD is tagged %s, but %s's latest deploy is %s (record %s): deploy %s to %s before verifying it",
				id.Tag, s.Config.Env.Name(), rec.Release, rec.ID, id.Tag, s.Config.Env.Name())
		}
	}
	s.Record = rec
	s.Printf("   %s: %s, %s (record %s, deployed by %s at %s)\n", s.Config.Env, rec.Release, rec.Outcome, rec.ID, rec.Actor, rec.Started.Format(time.RFC3339))
	return nil
}

// Verify runs the verification suites against the endpoint and records the
// result: the record becomes verified or verify_failed.
type Verify struct{}

// Name implements Stage.
func (Verify) Name() string { return "verify" }

// CasesPath is where the integration cases live, relative to the root.
const CasesPath = "tests/integration/cases.json"

// Run implements Stage.
func (Verify) Run(ctx context.Context, s *State) error {
	opts, err := s.VerifyOptions()
	if err != nil {
		return err
	}
	rep, err := verify.Run(ctx, s.Client.W.ServingEndpoints, opts)
	if rep == nil {
		return err
	}
	if rerr := rep.Render(s.Out, s.Opts.Color); rerr != nil && err == nil {
		err = rerr
	}
	sum := rep.Summary()
	rec := s.Record
	rec.Verify = summarizeVerify(sum, s.Artifacts, s.Config.Env.Name())
	switch rec.Outcome {
	// A stable prod release (canary passed, smoke tested) becomes verified
	// too; both count as good releases (promotion sources, rollback targets).
	case release.OutcomeDeployed, release.OutcomeStable, release.OutcomeVerified, release.OutcomeVerifyFailed:
		rec.Outcome = release.OutcomeVerified
		if !sum.Passed {
			rec.Outcome = release.OutcomeVerifyFailed
		}
	}
	if serr := s.Journal.Save(ctx, rec); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// VerifyOptions builds verify's options from the bundle target: the load
// test runs where the environment always runs it (staging), elsewhere
// with -load.
func (s *State) VerifyOptions() (verify.Options, error) {
	cases, err := verify.LoadCases(filepath.Join(s.Root, CasesPath))
	if err != nil {
		return verify.Options{}, err
	}
	settle := s.Opts.MetricsSettle
	if settle == 0 {
		settle = 2 * time.Minute
	}
	opts := verify.Options{
		Env: s.Config.Env.Name(), Endpoint: s.Config.Endpoint.Name, Cases: cases, Smoke: s.Opts.Smoke,
		Metrics:      &verify.MetricsConfig{Settle: settle},
		ArtifactsDir: s.Artifacts,
	}
	if lp := s.Config.Bundle.LoadTest; lp != nil && (s.Config.Env.AlwaysLoadTests() || s.Opts.Load) {
		opts.Load = &verify.LoadConfig{
			Concurrency: lp.Concurrency, Duration: lp.Duration,
			// A hard cap keeps a fast endpoint from being flooded.
			MaxRequests: max(100, int(float64(lp.Concurrency)*lp.Duration.Seconds()*20)),
			Thresholds:  verify.Thresholds{MaxP95: lp.MaxP95, MaxErrorRate: lp.MaxErrorRate, MinRPS: lp.MinRPS},
		}
	}
	return opts, nil
}

func summarizeVerify(sum verify.Summary, artifacts, env string) *release.VerifySummary {
	v := &release.VerifySummary{Passed: sum.Passed, At: sum.Started.Add(time.Duration(sum.DurationMs * float64(time.Millisecond))).UTC()}
	v.Suites = append(v.Suites, release.SuiteSummary{
		Name: sum.Suite.Name, Passed: sum.Suite.Failed == 0, Tests: sum.Suite.Passed + sum.Suite.Failed + sum.Suite.Skipped,
		Failures: sum.Suite.Failed, Skipped: sum.Suite.Skipped,
	})
	if l := sum.Load; l != nil {
		failed := 0
		for _, c := range l.Checks {
			if c.Outcome != verify.Pass {
				failed++
			}
		}
		v.Suites = append(v.Suites, release.SuiteSummary{
			Name: "load", Passed: failed == 0, Tests: len(l.Checks), Failures: failed,
			Detail: fmt.Sprintf("p50 %.0fms p95 %.0fms p99 %.0fms, %.1f req/s, error rate %.2f%%", l.LatencyMs["p50"], l.LatencyMs["p95"], l.LatencyMs["p99"], l.RPS, l.ErrorRate*100),
		})
	}
	if m := sum.Metrics; m != nil {
		failed := 0
		for _, c := range m.Checks {
			if c.Outcome != verify.Pass {
				failed++
			}
		}
		if m.Error != "" {
			failed++
		}
		v.Suites = append(v.Suites, release.SuiteSummary{
			Name: "metrics", Passed: failed == 0, Tests: len(m.Checks), Failures: failed,
			Detail: fmt.Sprintf("%.0f requests, %.0f 4xx, %.0f 5xx", m.Requests, m.Errors4xx, m.Errors5xx),
		})
	}
	dir := filepath.Join(artifacts, "verify", env)
	v.Reports = []string{filepath.Join(dir, "junit.xml"), filepath.Join(dir, "summary.json")}
	return v
}
