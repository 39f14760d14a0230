package rollout

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/judge"
)

// clientRate gives about 300 requests per virtual minute: ~30 reach a 10%
// canary, 150 in the test plan's 5 minutes, above its 100 needed.
const clientRate = 5

func TestGoodCanaryPromotes(t *testing.T) {
	wd := newWorld(t, worldOpts{rate: clientRate})
	c := wd.canary(testPlan())
	var st stages
	c.Progress = st.report
	var heard []serving.EndpointCoreConfigInput
	c.OnUpdate = func(cfg serving.EndpointCoreConfigInput) { heard = append(heard, cfg) }

	out, err := c.Run(testCtx(t))
	require.NoError(t, err)

	assert.Equal(t, map[string]int{wd.cand.Name: 100}, wd.traffic(), "candidate at 100%, stable removed")
	require.Len(t, heard, 2, "OnUpdate hears every config sent")
	assert.Equal(t, routes(wd.updates()[0]), routes(heard[0]))
	ep, _ := wd.srv.Endpoint(testEndpoint)
	require.Len(t, ep.Config.ServedEntities, 1)
	assert.Equal(t, serving.EndpointStateReadyReady, ep.State.Ready)

	assert.Equal(t, 2, out.Updates, "one canary update and one promotion")
	require.Len(t, out.Intervals, 5, "one read per virtual minute, up to the plan's 5 minutes")
	for i, iv := range out.Intervals {
		assert.Equal(t, 10, iv.Percent)
		require.Len(t, iv.Judged, 1, "each read shows one new minute")
		assert.False(t, iv.Judged[0].CandidateAbsent)
		assert.Positive(t, iv.Judged[0].Candidate.Requests)
		assert.Equal(t, i+1, iv.Decision.Minutes)
	}
	require.NotNil(t, out.Decision)
	assert.Equal(t, judge.Promote, out.Decision.Outcome, out.Decision.Reason)
	assert.Contains(t, out.Decision.Reason, "5 minutes without evidence against the candidate")
	assert.NotNil(t, out.Decision.LatencyStat, "the emulator exports latency: it is judged")
	assert.Equal(t, map[string]int{wd.stable.Name: 100}, Traffic(out.Before))
	assert.Equal(t, map[string]int{wd.cand.Name: 100}, Traffic(out.After))
	assert.Equal(t, wd.stable.Name, out.Stable.Name)
	assert.Empty(t, out.Resumed)

	assert.Equal(t, []Stage{StageCanary, StageAnalysis, StageAnalysis, StageAnalysis, StageAnalysis, StageAnalysis, StagePromoting, StagePromoted}, st.names())
	last := st.last()
	assert.Equal(t, 100, last.Percent)
	assert.Len(t, last.Intervals, 5)

	sent := wd.updates()
	require.Len(t, sent, 2)
	assert.Equal(t, []string{wd.stable.Name + " 90", wd.cand.Name + " 10"}, routes(sent[0]))
	assert.Equal(t, []string{wd.cand.Name + " 100"}, routes(sent[1]))
	// Stable is healthy throughout; the candidate earned its 100%.
	wd.assertHealthyRouted(wd.stable.Name, wd.cand.Name)
	for _, cfg := range sent {
		if len(cfg.ServedEntities) == 2 {
			assert.NotEqual(t, cfg.ServedEntities[0].Name, cfg.ServedEntities[1].Name, "stable and candidate have distinct names")
		}
	}
	out5 := c.Out.(*syncBuffer).String()
	assert.Contains(t, out5, "minute 5: cand ")
	assert.Contains(t, out5, "| errors log-LR ")
	assert.Contains(t, out5, "latency: slow ")
	assert.Contains(t, out5, "decision: Promote: 5 minutes without evidence")
}

func TestBadCanaryAborts(t *testing.T) {
	tests := []struct {
		name      string
		stable    *emulator.Behavior
		candidate emulator.Behavior
		reason    string
	}{
		{
			name:      "the model raises on 20% of requests (4xx)",
			candidate: emulator.Behavior{ErrorRate: 0.2},
			reason:    "share of errors",
		},
		{
			name:      "20% platform 5xx",
			candidate: emulator.Behavior{PlatformErrorRate: 0.2},
			reason:    "share of errors",
		},
		{
			name:      "3x p95 latency",
			stable:    &emulator.Behavior{Latency: emulator.Latency{Median: 30 * time.Millisecond, P99: 60 * time.Millisecond}},
			candidate: emulator.Behavior{Latency: emulator.Latency{Median: 90 * time.Millisecond, P99: 180 * time.Millisecond}},
			reason:    "slower than the endpoint's p95",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cand := tt.candidate
			wd := newWorld(t, worldOpts{rate: clientRate, stableBehavior: tt.stable, candBehavior: &cand})
			c := wd.canary(testPlan())
			var st stages
			c.Progress = st.report

			_, err := c.Run(testCtx(t))
			var ae *AbortError
			require.ErrorAs(t, err, &ae)
			require.ErrorIs(t, err, ErrAborted)
			assert.Contains(t, ae.Reason, tt.reason)
			assert.Contains(t, err.Error(), "serves 100% again")

			assert.True(t, ae.Restored)
			assert.Equal(t, map[string]int{wd.stable.Name: 100}, wd.traffic(), "traffic back to 100% stable, candidate removed")
			assert.Equal(t, map[string]int{wd.stable.Name: 100}, Traffic(ae.After))
			require.NotNil(t, ae.Decision)
			assert.Equal(t, judge.Abort, ae.Decision.Outcome)
			assert.Equal(t, CauseCandidateWorse, ae.Why())
			assert.Contains(t, ae.Error(), "aborted (candidate judged worse): ")
			assert.LessOrEqual(t, ae.Decision.Minutes, 2, "caught within two minutes")
			require.Len(t, ae.Intervals, ae.Decision.Minutes)
			if tt.reason == "share of errors" {
				require.NotNil(t, ae.Decision.Ratio, "the record estimates the error ratio")
				assert.Greater(t, *ae.Decision.Ratio, 1.0)
			}
			assert.Equal(t, 2, ae.Updates, "canary and restore")
			assert.Equal(t, StageAborted, st.last().Stage)
			assert.Equal(t, StageAborting, st.names()[len(st.names())-2])
			wd.assertHealthyRouted(wd.stable.Name)
		})
	}
}

// An export that names no served entity (the real export's documentation
// shows no labels; see tests/contract) cannot attribute requests to the
// candidate: the canary stops at the first minute it reads, restores the
// stable version and says why, without a verdict on the candidate.
func TestUnattributableExportIsNotJudged(t *testing.T) {
	wd := newWorld(t, worldOpts{rate: 20, emulator: emulator.Options{Metrics: emulator.MetricsOptions{Labels: emulator.MetricsUnlabelled}}})
	_, err := wd.canary(testPlan()).Run(testCtx(t))
	var ae *AbortError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, judge.InsufficientTraffic, ae.Decision.Outcome, "not a verdict on the candidate")
	assert.Contains(t, ae.Reason, "the metrics export names no served entity")
	assert.Contains(t, ae.Reason, "so the candidate was not judged")
	assert.NotContains(t, ae.Reason, "CANARY_PROBES", "no hint that would not help")
	assert.LessOrEqual(t, ae.Decision.Minutes, 0, "no minute was judged")
	assert.Equal(t, map[string]int{wd.stable.Name: 100}, wd.traffic())
	wd.assertHealthyRouted(wd.stable.Name)
}

func TestLowTraffic(t *testing.T) {
	t.Run("without probes the canary stops for insufficient traffic", func(t *testing.T) {
		wd := newWorld(t, worldOpts{rate: 0.1})
		_, err := wd.canary(testPlan()).Run(testCtx(t))
		var ae *AbortError
		require.ErrorAs(t, err, &ae)
		assert.Contains(t, ae.Reason, "insufficient traffic: ")
		assert.Contains(t, ae.Reason, "candidate requests in 5 minutes, fewer than the 100 needed; set CANARY_PROBES=1 or raise canary_traffic_percent")
		assert.Equal(t, judge.InsufficientTraffic, ae.Decision.Outcome, "not a verdict on the candidate")
		assert.Equal(t, CauseInsufficientTraffic, ae.Why())
		assert.Equal(t, map[string]int{wd.stable.Name: 100}, wd.traffic())
		wd.assertHealthyRouted(wd.stable.Name)
	})
	t.Run("probes bring a good candidate to a decision", func(t *testing.T) {
		wd := newWorld(t, worldOpts{rate: 0})
		plan := testPlan().WithProbes()
		require.NotNil(t, plan.Probe)
		assert.Equal(t, 400, plan.Probe.Cap, "2 x 100 requests in 5 minutes at 10%")
		c := wd.canary(plan)
		out, err := c.Run(testCtx(t))
		require.NoError(t, err)
		assert.Equal(t, map[string]int{wd.cand.Name: 100}, wd.traffic())
		require.Len(t, out.Intervals, 5)
		for _, iv := range out.Intervals {
			require.NotNil(t, iv.Probes)
			assert.Equal(t, 400, iv.Probes.Sent)
			assert.Zero(t, iv.Probes.Failed)
		}
		assert.Equal(t, judge.Promote, out.Decision.Outcome)
		assert.Equal(t, 2000, len(wd.srv.RequestsFor("serving-endpoints.query")), "probes bounded by the cap")
		assert.Contains(t, c.Out.(*syncBuffer).String(), "[400 probes, 0 failed]")
	})
	t.Run("probes catch a bad candidate", func(t *testing.T) {
		wd := newWorld(t, worldOpts{rate: 0, candBehavior: &emulator.Behavior{ErrorRate: 0.2}})
		_, err := wd.canary(testPlan().WithProbes()).Run(testCtx(t))
		var ae *AbortError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, judge.Abort, ae.Decision.Outcome)
		assert.Positive(t, ae.Intervals[0].Probes.Failed, "probes the candidate failed")
		assert.Equal(t, map[string]int{wd.stable.Name: 100}, wd.traffic())
	})
	t.Run("probe rate bounds the probes below the cap", func(t *testing.T) {
		wd := newWorld(t, worldOpts{rate: 0})
		plan := testPlan()
		plan.Probe = &Probe{Rate: 1, Cap: 1000, Concurrency: 2}
		_, err := wd.canary(plan).Run(testCtx(t))
		var ae *AbortError
		require.ErrorAs(t, err, &ae, "60 probes a minute give the canary ~30 requests in 5 minutes: insufficient")
		assert.Equal(t, 60, ae.Intervals[0].Probes.Sent)
		assert.Equal(t, judge.InsufficientTraffic, ae.Decision.Outcome)
		assert.NotContains(t, ae.Reason, "CANARY_PROBES", "the hint never repeats a setting already set")
		assert.Contains(t, ae.Reason, "probes were on: raise canary_traffic_percent or canary_max_duration, or lower min_requests")
	})
}

func TestUpdateFailuresAbortToStable(t *testing.T) {
	tests := []struct {
		name string
		// arm scripts the failure; progress lets it strike mid-rollout.
		arm    func(wd *world, st *stages)
		reason string
		cause  func(t *testing.T, err error)
	}{
		{
			name: "canary update ends UPDATE_FAILED",
			arm: func(wd *world, _ *stages) {
				wd.srv.FailNextEndpointUpdate(testEndpoint, "ERROR: could not install requirements\nnumpy==9.9 not found")
			},
			reason: "setting the candidate to 10% failed",
			cause: func(t *testing.T, err error) {
				var uf *UpdateFailedError
				require.ErrorAs(t, err, &uf)
				assert.Equal(t, "UPDATE_FAILED", uf.State)
				assert.Contains(t, uf.Logs, "numpy==9.9 not found")
			},
		},
		{
			name: "candidate build fails",
			arm: func(wd *world, _ *stages) {
				wd.srv.SetVersionBehavior(testModel, wd.cand.EntityVersion, emulator.Behavior{BuildFailure: "model load failed: missing artifact"})
			},
			reason: "setting the candidate to 10% failed",
			cause: func(t *testing.T, err error) {
				var uf *UpdateFailedError
				require.ErrorAs(t, err, &uf)
				assert.Equal(t, wd0(t, err), uf.Served)
				assert.Contains(t, uf.Logs, "missing artifact")
			},
		},
		{
			name: "canary update refused with 500",
			arm: func(wd *world, _ *stages) {
				wd.srv.InjectFaults("PUT /api/2.0/serving-endpoints/*/config", emulator.Fault500)
			},
			reason: "setting the candidate to 10% failed",
			cause: func(t *testing.T, err error) {
				var uf *UpdateFailedError
				require.ErrorAs(t, err, &uf)
				assert.Empty(t, uf.State, "the call itself failed")
			},
		},
		{
			name: "promotion ends UPDATE_FAILED",
			arm: func(wd *world, st *stages) {
				st.hook = func(p Progress) {
					if p.Stage == StagePromoting {
						wd.srv.FailNextEndpointUpdate(testEndpoint, "capacity exhausted")
					}
				}
			},
			reason: "promoting the candidate to 100% failed",
			cause: func(t *testing.T, err error) {
				var uf *UpdateFailedError
				require.ErrorAs(t, err, &uf)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wd := newWorld(t, worldOpts{rate: clientRate})
			c := wd.canary(testPlan())
			var st stages
			c.Progress = st.report
			tt.arm(wd, &st)

			_, err := c.Run(testCtx(t))
			var ae *AbortError
			require.ErrorAs(t, err, &ae)
			assert.Contains(t, ae.Reason, tt.reason)
			tt.cause(t, ae.Cause)
			assert.Equal(t, CausePlatformError, ae.Why())
			assert.Contains(t, ae.Error(), "aborted (platform error, candidate not judged)")
			assert.True(t, ae.Restored, "stable restored: %v", ae.RestoreErr)
			assert.Equal(t, map[string]int{wd.stable.Name: 100}, wd.traffic())
			ep, _ := wd.srv.Endpoint(testEndpoint)
			assert.Equal(t, serving.EndpointStateReadyReady, ep.State.Ready)
			assert.Equal(t, StageAborted, st.last().Stage)
			// The candidate may only have had more than its canary share
			// once it passed the analysis (the failed promotion).
			healthy := []string{wd.stable.Name}
			if st.names()[len(st.names())-3] == StagePromoting {
				healthy = append(healthy, wd.cand.Name)
			}
			wd.assertHealthyRouted(healthy...)
		})
	}
}

func routes(cfg serving.EndpointCoreConfigInput) []string {
	var out []string
	for _, r := range cfg.TrafficConfig.Routes {
		out = append(out, fmt.Sprintf("%s %d", r.ServedEntityName, r.TrafficPercentage))
	}
	return out
}

// wd0 is the candidate's served entity name in the build-failure case.
func wd0(t *testing.T, err error) string {
	var uf *UpdateFailedError
	require.ErrorAs(t, err, &uf)
	return uf.Served
}

func TestAbortRestoreIsRetried(t *testing.T) {
	wd := newWorld(t, worldOpts{rate: clientRate, candBehavior: &emulator.Behavior{ErrorRate: 0.2}})
	c := wd.canary(testPlan())
	c.Progress = func(p Progress) {
		if p.Stage == StageAborting {
			// The first restore is refused, the second times out at the
			// gateway (and the SDK retries it): stable must still come back.
			wd.srv.InjectFaults("PUT /api/2.0/serving-endpoints/*/config", emulator.Fault500)
		}
	}
	_, err := c.Run(testCtx(t))
	var ae *AbortError
	require.ErrorAs(t, err, &ae)
	assert.True(t, ae.Restored)
	assert.Equal(t, map[string]int{wd.stable.Name: 100}, wd.traffic())
	assert.Equal(t, 3, ae.Updates, "canary, refused restore, restore")
	assert.Contains(t, c.Out.(*syncBuffer).String(), "restoring agent-prod failed (attempt 1 of 4)")
	wd.assertHealthyRouted(wd.stable.Name)
}

func TestAbortRestoreGivesUp(t *testing.T) {
	wd := newWorld(t, worldOpts{rate: clientRate, candBehavior: &emulator.Behavior{ErrorRate: 0.2}})
	c := wd.canary(testPlan())
	c.RestoreAttempts = 2
	c.Progress = func(p Progress) {
		if p.Stage == StageAborting {
			wd.srv.InjectFaults("PUT /api/2.0/serving-endpoints/*/config", emulator.Fault500, emulator.Fault500)
		}
	}
	_, err := c.Run(testCtx(t))
	var ae *AbortError
	require.ErrorAs(t, err, &ae)
	assert.False(t, ae.Restored)
	require.Error(t, ae.RestoreErr)
	assert.Contains(t, err.Error(), "run the deploy again to finish the abort")
	// The candidate still has its canary share, never more: stable is routed.
	assert.Equal(t, map[string]int{wd.stable.Name: 90, wd.cand.Name: 10}, wd.traffic())
	wd.assertHealthyRouted(wd.stable.Name)
}

func TestCancelStopsPromptly(t *testing.T) {
	wd := newWorld(t, worldOpts{rate: clientRate})
	c := wd.canary(testPlan())
	c.Clock = WallClock{} // a real minute per interval: only cancellation ends it
	ctx, cancel := context.WithCancel(testCtx(t))
	c.Progress = func(p Progress) {
		if p.Stage == StageCanary {
			go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		}
	}
	_, err := c.Run(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "run again to resume")
	assert.Equal(t, map[string]int{wd.stable.Name: 90, wd.cand.Name: 10}, wd.traffic(), "left in a safe state")
}

func TestFailedReadsOfTheExportAbort(t *testing.T) {
	wd := newWorld(t, worldOpts{rate: clientRate})
	wd.srv.InjectFaults("GET /api/2.0/serving-endpoints/*/metrics", emulator.Fault500, emulator.Fault500, emulator.Fault500, emulator.Fault500)
	plan := testPlan()
	plan.ScrapeErrorLimit = 3
	_, err := wd.canary(plan).Run(testCtx(t))
	var ae *AbortError
	require.ErrorAs(t, err, &ae)
	assert.Contains(t, ae.Reason, "3 reads of the metrics export in a row failed")
	assert.Equal(t, CausePlatformError, ae.Why(), "the platform failed, not the candidate")
	require.Len(t, ae.Intervals, 3, "the first read before the analysis failed too, without counting")
	for _, iv := range ae.Intervals {
		assert.NotEmpty(t, iv.ScrapeError)
	}
	assert.Equal(t, map[string]int{wd.stable.Name: 100}, wd.traffic())
}

func TestExportWithoutLatency(t *testing.T) {
	wd := newWorld(t, worldOpts{rate: clientRate, emulator: emulator.Options{Metrics: emulator.MetricsOptions{OmitLatency: true}}})
	c := wd.canary(testPlan())
	out, err := c.Run(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, judge.LatencyNotExported, out.Decision.Latency)
	assert.Nil(t, out.Decision.LatencyStat)
	assert.Contains(t, c.Out.(*syncBuffer).String(), "latency not exported by this workspace")
}

func TestMultiStepPlan(t *testing.T) {
	wd := newWorld(t, worldOpts{rate: clientRate})
	plan := testPlan()
	plan.Judge.MaxMinutes = 2
	plan.Judge.MinRequests = 40
	plan.Steps = []Step{SetWeight(10), Analyze(time.Minute), SetWeight(50), Analyze(time.Minute), Promote()}
	out, err := wd.canary(plan).Run(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, 3, out.Updates)
	require.Len(t, out.Intervals, 4, "each weight judged on its own minutes")
	assert.Equal(t, []int{10, 10, 50, 50}, []int{out.Intervals[0].Percent, out.Intervals[1].Percent, out.Intervals[2].Percent, out.Intervals[3].Percent})
	wd.assertHealthyRouted(wd.stable.Name, wd.cand.Name)
}

func TestRunRefuses(t *testing.T) {
	t.Run("invalid canary", func(t *testing.T) {
		_, err := (&Canary{Plan: Plan{}}).Run(context.Background())
		require.Error(t, err)
		for _, want := range []string{"no serving API", "no endpoint name", "entity_name and entity_version", "no steps"} {
			assert.Contains(t, err.Error(), want)
		}
	})
	t.Run("missing endpoint", func(t *testing.T) {
		wd := newWorld(t, worldOpts{})
		c := wd.canary(testPlan())
		c.Endpoint = "nope"
		_, err := c.Run(testCtx(t))
		require.ErrorIs(t, err, ErrEndpointMissing)
		assert.Empty(t, wd.srv.MutatingRequests())
	})
	t.Run("unexpected stable", func(t *testing.T) {
		wd := newWorld(t, worldOpts{extra: 1})
		c := wd.canary(testPlan())
		c.Stable = &Entity{EntityName: testModel, EntityVersion: wd.others[0]}
		_, err := c.Run(testCtx(t))
		require.ErrorContains(t, err, "not the expected stable")
		assert.Empty(t, wd.srv.MutatingRequests())
	})
	t.Run("traffic split over other versions", func(t *testing.T) {
		wd := newWorld(t, worldOpts{extra: 1})
		other := Entity{Name: ServedEntityName(testModel, wd.others[0]), EntityName: testModel, EntityVersion: wd.others[0], WorkloadSize: "Small"}
		wd.serve([]Entity{wd.stable, other}, []int{50, 50})
		wd.srv.ResetRequests()
		_, err := wd.canary(testPlan()).Run(testCtx(t))
		require.ErrorContains(t, err, "roll back to one version before a canary")
		assert.Empty(t, wd.srv.MutatingRequests())
	})
	t.Run("checkpoint of another release", func(t *testing.T) {
		wd := newWorld(t, worldOpts{})
		c := wd.canary(testPlan())
		c.Resume = &Checkpoint{Endpoint: testEndpoint, Candidate: "agent-prod-9", Stage: StageAborting}
		_, err := c.Run(testCtx(t))
		require.ErrorContains(t, err, "checkpoint to resume is for agent-prod-9")
		assert.Empty(t, wd.srv.MutatingRequests())
	})
}

func TestAbortErrorUnwraps(t *testing.T) {
	cause := errors.New("boom")
	restore := context.DeadlineExceeded
	ae := &AbortError{Endpoint: "e", Reason: "r", Cause: cause, RestoreErr: restore}
	assert.ErrorIs(t, ae, ErrAborted)
	assert.ErrorIs(t, ae, cause)
	assert.ErrorIs(t, ae, context.DeadlineExceeded)
	assert.Contains(t, ae.Error(), "restoring")
}
