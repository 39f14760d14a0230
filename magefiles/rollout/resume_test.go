package rollout

import (
	"context"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/judge"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace/forcesend"
)

// A rollout re-run against whatever a crashed one left on the endpoint
// continues from there instead of starting over.
func TestResumeFromEndpointState(t *testing.T) {
	tests := []struct {
		name string
		// leave puts the endpoint where a crashed run left it.
		leave     func(wd *world)
		resume    func(wd *world) *Checkpoint
		updates   int
		intervals int
		resumed   string
	}{
		{name: "stable only: a fresh start", leave: func(*world) {}, updates: 2, intervals: 5},
		{
			name:    "candidate at the canary weight: analysis continues without an update",
			leave:   func(wd *world) { wd.serve([]Entity{wd.stable, wd.cand}, []int{90, 10}) },
			updates: 1, intervals: 5, resumed: "already at 10%",
		},
		{
			name:  "canary update landed after the checkpoint said canary",
			leave: func(wd *world) { wd.serve([]Entity{wd.stable, wd.cand}, []int{90, 10}) },
			resume: func(wd *world) *Checkpoint {
				return &Checkpoint{Stage: StageCanary, Endpoint: testEndpoint, Candidate: wd.cand.Name, Stable: wd.stable.Name, Percent: 10}
			},
			updates: 1, intervals: 5, resumed: "already at 10%",
		},
		{
			name:  "two minutes already judged: three more reach the plan's five",
			leave: func(wd *world) { wd.serve([]Entity{wd.stable, wd.cand}, []int{90, 10}) },
			resume: func(wd *world) *Checkpoint {
				return &Checkpoint{Stage: StageAnalysis, Step: 1, Endpoint: testEndpoint, Candidate: wd.cand.Name, Stable: wd.stable.Name, Percent: 10,
					Intervals: []Interval{
						{Step: 1, Percent: 10, N: 1, Judged: okMinute, Decision: judge.Decision{Outcome: judge.Continue, Reason: "ok"}},
						{Step: 1, Percent: 10, N: 2, Judged: okMinute, Decision: judge.Decision{Outcome: judge.Continue, Reason: "ok"}},
					}}
			},
			updates: 1, intervals: 5, resumed: "already at 10%",
		},
		{
			name:    "candidate at a weight the plan does not have: back to the first step",
			leave:   func(wd *world) { wd.serve([]Entity{wd.stable, wd.cand}, []int{70, 30}) },
			updates: 2, intervals: 5, resumed: "already at 30%",
		},
		{
			name:    "candidate beside stable without traffic",
			leave:   func(wd *world) { wd.serve([]Entity{wd.stable, wd.cand}, []int{100, 0}) },
			updates: 2, intervals: 5,
		},
		{
			name:    "already promoted: nothing to do",
			leave:   func(wd *world) { wd.serve([]Entity{wd.cand}, []int{100}) },
			updates: 0, intervals: 0, resumed: "already serving 100%",
		},
		{
			name:    "promoted with the stable entity left at 0%: it is removed",
			leave:   func(wd *world) { wd.serve([]Entity{wd.stable, wd.cand}, []int{0, 100}) },
			updates: 1, intervals: 0, resumed: "already serving 100%",
		},
		{
			name:  "promotion decided before the crash: promote without analysing again",
			leave: func(wd *world) { wd.serve([]Entity{wd.stable, wd.cand}, []int{90, 10}) },
			resume: func(wd *world) *Checkpoint {
				return &Checkpoint{Stage: StagePromoting, Step: 2, Endpoint: testEndpoint, Candidate: wd.cand.Name, Percent: 10, Reason: "3 successful"}
			},
			updates: 1, intervals: 0, resumed: "a promotion",
		},
		{
			name:  "intervals judged before a rollback do not count",
			leave: func(*world) {},
			resume: func(wd *world) *Checkpoint {
				return &Checkpoint{Stage: StageAnalysis, Step: 1, Endpoint: testEndpoint, Candidate: wd.cand.Name, Percent: 10,
					Intervals: []Interval{{Step: 1, Percent: 10, N: 1, Judged: okMinute, Decision: judge.Decision{Outcome: judge.Continue, Reason: "ok"}}}}
			},
			updates: 2, intervals: 6,
		},
		{
			name:  "promotion decided but stable was rolled back to since: the canary starts again",
			leave: func(*world) {},
			resume: func(wd *world) *Checkpoint {
				return &Checkpoint{Stage: StagePromoting, Step: 2, Endpoint: testEndpoint, Candidate: wd.cand.Name, Percent: 10, Reason: "3 successful",
					Intervals: []Interval{{Step: 1, Percent: 10, N: 1, Judged: okMinute, Decision: judge.Decision{Outcome: judge.Continue, Reason: "ok"}}}}
			},
			updates: 2, intervals: 6,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wd := newWorld(t, worldOpts{rate: clientRate})
			tt.leave(wd)
			wd.wire.reset()
			wd.srv.ResetRequests()
			c := wd.canary(testPlan())
			if tt.resume != nil {
				c.Resume = tt.resume(wd)
			}
			out, err := c.Run(testCtx(t))
			require.NoError(t, err)
			assert.Equal(t, map[string]int{wd.cand.Name: 100}, wd.traffic())
			assert.Equal(t, tt.updates, out.Updates)
			assert.Len(t, wd.updates(), tt.updates)
			judged := 0
			for _, iv := range out.Intervals {
				if iv.Reason != "ok" {
					judged++
				}
			}
			assert.Equal(t, tt.intervals-len(c.Resume.intervalsOrNil()), judged, "intervals judged by this run")
			assert.Contains(t, out.Resumed, tt.resumed)
			wd.assertHealthyRouted(wd.stable.Name, wd.cand.Name)
		})
	}
}

// okMinute is a healthy minute a crashed run judged before.
var okMinute = []judge.Minute{{Candidate: judge.Counts{Requests: 30}, Baseline: judge.Counts{Requests: 270}}}

func (c *Checkpoint) intervalsOrNil() []Interval {
	if c == nil {
		return nil
	}
	return c.Intervals
}

func TestResumeAbort(t *testing.T) {
	tests := []struct {
		name    string
		leave   func(wd *world)
		stage   Stage
		updates int
	}{
		{name: "abort decided, candidate still at 10%", leave: func(wd *world) { wd.serve([]Entity{wd.stable, wd.cand}, []int{90, 10}) }, stage: StageAborting, updates: 1},
		{name: "abort done", leave: func(*world) {}, stage: StageAborted, updates: 0},
		{name: "abort decided and its update landed", leave: func(*world) {}, stage: StageAborting, updates: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wd := newWorld(t, worldOpts{rate: clientRate})
			tt.leave(wd)
			wd.wire.reset()
			wd.srv.ResetRequests()
			c := wd.canary(testPlan())
			evidence := []Interval{{Step: 1, Percent: 10, N: 1, Decision: judge.Decision{Outcome: judge.Abort, Reason: "errors"}}}
			c.Resume = &Checkpoint{Stage: tt.stage, Endpoint: testEndpoint, Candidate: wd.cand.Name, Reason: "the candidate's share of errors is above its share of traffic", Intervals: evidence}
			_, err := c.Run(testCtx(t))
			var ae *AbortError
			require.ErrorAs(t, err, &ae)
			assert.True(t, ae.Restored)
			assert.Equal(t, "the candidate's share of errors is above its share of traffic", ae.Reason)
			assert.Equal(t, evidence, ae.Intervals, "the stored evidence comes back")
			assert.Equal(t, tt.updates, ae.Updates)
			assert.Zero(t, wd.clock.Sleeps(), "no analysis after an abort was decided")
			assert.Equal(t, map[string]int{wd.stable.Name: 100}, wd.traffic())
			wd.assertHealthyRouted(wd.stable.Name)
		})
	}
}

// A rollout killed at any step and run again with the last checkpoint it
// stored converges: a good candidate ends promoted, a bad one aborted, and
// the stable version keeps traffic until a promotion earned otherwise.
func TestKilledAtEveryStepConverges(t *testing.T) {
	for _, bad := range []bool{false, true} {
		// Events of an uninterrupted run: canary, 5 analyses, promoting,
		// promoted; or canary, an analysis, aborting, aborted.
		events := 8
		if bad {
			events = 4
		}
		for kill := 1; kill <= events; kill++ {
			name := "good"
			if bad {
				name = "bad"
			}
			t.Run(name+"/killed after event "+string(rune('0'+kill)), func(t *testing.T) {
				opts := worldOpts{rate: clientRate}
				if bad {
					opts.candBehavior = &emulator.Behavior{ErrorRate: 0.2}
				}
				wd := newWorld(t, opts)

				ctx, cancel := context.WithCancel(testCtx(t))
				var stored *Checkpoint
				n := 0
				first := wd.canary(testPlan())
				first.Progress = func(p Progress) {
					cp := p.Checkpoint
					stored = &cp // the release record is written, then the process dies
					if n++; n == kill {
						cancel()
					}
				}
				_, err := first.Run(ctx)
				if kill < events {
					require.Error(t, err)
				}

				again := wd.canary(testPlan())
				again.Resume = stored
				out, err := again.Run(testCtx(t))
				if bad {
					var ae *AbortError
					require.ErrorAs(t, err, &ae)
					assert.True(t, ae.Restored)
					assert.Equal(t, map[string]int{wd.stable.Name: 100}, wd.traffic())
					wd.assertHealthyRouted(wd.stable.Name)
					return
				}
				require.NoError(t, err)
				require.NotNil(t, out)
				assert.Equal(t, map[string]int{wd.cand.Name: 100}, wd.traffic())
				wd.assertHealthyRouted(wd.stable.Name, wd.cand.Name)
				// The candidate went to 100% exactly once, and only after it
				// passed: at most two configs ever served it.
				assert.LessOrEqual(t, len(wd.updates()), 2)
			})
		}
	}
}

// A run that finds its own canary update still in flight waits for it,
// then continues at that weight.
func TestResumeWaitsForAnUpdateInFlight(t *testing.T) {
	wd := newWorld(t, worldOpts{rate: clientRate, emulator: emulator.Options{
		TimeScale: 1,
		Durations: emulator.Durations{EndpointUpdate: 200 * time.Millisecond, TrafficUpdate: time.Nanosecond},
	}})
	_, err := wd.api.UpdateConfig(testCtx(t), forcesend.EndpointConfig(canaryConfig(testEndpoint, wd.stable, wd.cand, 10)))
	require.NoError(t, err)
	ep, _ := wd.srv.Endpoint(testEndpoint)
	require.Equal(t, serving.EndpointStateConfigUpdateInProgress, ep.State.ConfigUpdate, "the crashed run's update is in flight")
	wd.wire.reset()
	wd.srv.ResetRequests()

	c := wd.canary(testPlan())
	out, err := c.Run(testCtx(t))
	require.NoError(t, err)
	assert.Contains(t, c.Out.(*syncBuffer).String(), "is updating; waiting for that update to end")
	assert.Contains(t, out.Resumed, "already at 10%")
	assert.Equal(t, 1, out.Updates, "only the promotion")
	assert.Equal(t, map[string]int{wd.cand.Name: 100}, wd.traffic())
	wd.assertHealthyRouted(wd.stable.Name, wd.cand.Name)
}
