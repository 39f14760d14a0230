package judge

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bench/canary/binomial"
	"github.com/hitl-mlops/interrupt-agent/magefiles/servingmetrics"
)

func minute(cReq, c4xx, c5xx, bReq, b4xx, b5xx float64) Minute {
	return Minute{Candidate: Counts{cReq, c4xx, c5xx}, Baseline: Counts{bReq, b4xx, b5xx}}
}

func fold(c Config, ms ...Minute) State {
	var s State
	for _, m := range ms {
		s = Observe(c, s, m)
	}
	return s
}

func repeat(n int, m Minute) []Minute {
	out := make([]Minute, n)
	for i := range out {
		out[i] = m
	}
	return out
}

func TestDecide(t *testing.T) {
	cfg := DefaultConfig()
	slowCand := servingmetrics.Histogram{Bounds: []float64{50, 100, 250}, Counts: []float64{0, 0, 90}, Total: 100}
	fastBase := servingmetrics.Histogram{Bounds: []float64{50, 100, 250}, Counts: []float64{850, 890, 900}, Total: 900}
	tests := []struct {
		name    string
		cfg     Config
		minutes []Minute
		want    Outcome
		reason  string
	}{
		{"healthy first minute continues", cfg, []Minute{minute(100, 1, 0, 900, 9, 0)}, Continue, "minute 1 of at most 20"},
		{"model errors (4xx) far above the traffic share abort", cfg, repeat(2, minute(100, 20, 0, 900, 9, 0)), Abort, "share of errors"},
		{"platform 5xx on the candidate abort", cfg, repeat(2, minute(100, 0, 20, 900, 0, 1)), Abort, "crossed"},
		{"callers' bad requests hitting both alike do not abort", cfg, repeat(20, minute(100, 10, 0, 900, 90, 0)), Promote, "error rate is below 1.5 x"},
		{"too little traffic at the maximum duration", cfg, repeat(20, minute(5, 0, 0, 45, 0, 0)), InsufficientTraffic, "insufficient traffic: 100 candidate requests in 20 minutes"},
		{"no errors at all promotes at the maximum duration", cfg, repeat(20, minute(100, 0, 0, 900, 0, 0)), Promote, "20 minutes without evidence"},
		{"a minute without the candidate teaches nothing", cfg, []Minute{{Baseline: Counts{Requests: 900, Errors4xx: 50}, CandidateAbsent: true}}, Continue, ""},
		{"errors late in the canary abort at the exact look at the maximum duration", cfg,
			append(repeat(15, minute(100, 0, 0, 900, 1, 0)), repeat(5, minute(100, 2, 0, 900, 1, 0))...), Abort, "10 of the endpoint's 30 errors in 20 minutes"},
		{"invalid configuration aborts", Config{Alpha: 0}, []Minute{minute(100, 0, 0, 900, 0, 0)}, Abort, "alpha 0 must be"},
		{"a slow candidate aborts where latency is exported", Config{Alpha: 0.01, MaxErrorRatio: 1.5, MaxMinutes: 20, MinRequests: 500, Latency: true},
			repeat(2, Minute{Candidate: Counts{Requests: 100}, Baseline: Counts{Requests: 900}, CandidateLatency: slowCand, BaselineLatency: fastBase}), Abort, "slower than the endpoint's p95"},
		{"a slow candidate passes the error test where latency is not exported", cfg,
			repeat(2, Minute{Candidate: Counts{Requests: 100}, Baseline: Counts{Requests: 900}, CandidateLatency: slowCand, BaselineLatency: fastBase}), Continue, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.cfg, fold(tt.cfg, tt.minutes...))
			assert.Equal(t, tt.want, d.Outcome, d.Reason)
			assert.Contains(t, d.Reason, tt.reason)
		})
	}
}

func TestExactLookInTheRecord(t *testing.T) {
	cfg := DefaultConfig()
	ms := repeat(5, minute(100, 1, 0, 900, 9, 0))
	s := fold(cfg, ms...)
	d := Decide(cfg, s)
	require.Len(t, d.Looks, 1)
	l := d.Looks[0]
	assert.Equal(t, Look{Minute: 5, Level: 0.0025, Errors: 5, Total: 50, Boundary: l.Boundary, P: l.P}, l)
	assert.Greater(t, l.Boundary, 10, "an identical candidate's 5 of 50 is far from the boundary")
	assert.Greater(t, l.P, 0.3)
	assert.Contains(t, Line(ms[4], d), "exact look: cand 5 of 50 errors, abort at ")
	assert.NotContains(t, Line(ms[3], Decide(cfg, fold(cfg, ms[:4]...))), "exact look")
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"looks":[{"minute":5,`)
}

func TestObserveIsPure(t *testing.T) {
	cfg := DefaultConfig()
	s := fold(cfg, minute(100, 20, 0, 900, 9, 0))
	before := s
	_ = Observe(cfg, s, minute(100, 50, 0, 900, 0, 0))
	assert.Equal(t, before, s)

	// Across an exact look: two futures of one state keep their own looks.
	s = fold(cfg, repeat(4, minute(100, 1, 0, 900, 9, 0))...)
	calm := Observe(cfg, s, minute(100, 1, 0, 900, 9, 0))
	bad := Observe(cfg, s, minute(100, 40, 0, 900, 9, 0))
	assert.Empty(t, s.Looks)
	require.Len(t, calm.Looks, 1)
	require.Len(t, bad.Looks, 1)
	assert.False(t, calm.Looks[0].Rejected)
	assert.True(t, bad.Looks[0].Rejected)
}

func TestEvidence(t *testing.T) {
	cfg := DefaultConfig()
	d := Decide(cfg, fold(cfg, minute(100, 8, 2, 900, 9, 1)))
	require.NotNil(t, d.TrafficShare)
	assert.InDelta(t, 0.1, *d.TrafficShare, 1e-12)
	assert.InDelta(t, 0.5, *d.ErrorShare, 1e-12)
	assert.InDelta(t, 8.0/17, *d.Share4xx, 1e-12)
	assert.InDelta(t, 2.0/3, *d.Share5xx, 1e-12)
	// (10/100) / (10/900) = 9, Katz interval around it.
	assert.InDelta(t, 9, *d.Ratio, 1e-9)
	assert.Less(t, *d.RatioLow, 9.0)
	assert.Greater(t, *d.RatioHigh, 9.0)
	assert.InDelta(t, math.Log(400), d.AbortAt, 1e-12, "the mixture test spends a quarter of alpha")
	assert.Equal(t, LatencyNotExported, d.Latency)
	assert.Nil(t, d.LatencyStat)
	raw, err := json.Marshal(d)
	require.NoError(t, err, "the evidence must encode for the release record")
	assert.Contains(t, string(raw), `"error_ratio":9`)

	line := Line(minute(100, 8, 2, 900, 9, 1), d)
	for _, want := range []string{"minute 1:", "cand 100 req (4xx 8, 5xx 2)", "traffic 10.0%", "errors 50.0%", "abort at 5.99", "latency not exported by this workspace"} {
		assert.Contains(t, line, want)
	}
	assert.Contains(t, d.Summary(), "error ratio 9.00")
}

func TestMinuteOf(t *testing.T) {
	w := servingmetrics.Window{Entities: map[string]servingmetrics.Values{
		"stable": {Requests: 900, Errors4xx: 9},
	}}
	m := MinuteOf(w, "cand", "stable")
	assert.True(t, m.CandidateAbsent)
	assert.Equal(t, Counts{Requests: 900, Errors4xx: 9}, m.Baseline)
	s := Observe(DefaultConfig(), State{}, m)
	assert.Equal(t, 1, s.AbsentMinutes)
}

// The false-abort bound, checked by simulation: identical candidates
// watched every minute for a long time (120 minutes, no early stop) are
// aborted in fewer than alpha of the runs. Seeded: the result is the same
// on every run.
func TestFalseAbortRateBoundedUnderContinuousMonitoring(t *testing.T) {
	cfg := Config{Alpha: 0.05, MaxErrorRatio: 100, MaxMinutes: 120, MinRequests: 1}
	rng := rand.New(rand.NewPCG(7, 11))
	for _, p := range []float64{0.01, 0.05} {
		aborts := 0
		const runs = 1000
		for range runs {
			var s State
			for range cfg.MaxMinutes {
				s = Observe(cfg, s, minute(50, binomial.Draw(rng, 50, p), 0, 450, binomial.Draw(rng, 450, p), 0))
				if Decide(cfg, s).Outcome == Abort {
					aborts++
					break
				}
			}
		}
		assert.LessOrEqual(t, float64(aborts)/runs, cfg.Alpha, "baseline %v", p)
	}
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	err := Config{Alpha: 0.5, MaxErrorRatio: 1, MaxMinutes: 0, MinRequests: 0}.Validate()
	require.Error(t, err)
	for _, want := range []string{"alpha 0.5", "max error ratio 1", "max minutes 0", "min requests 0"} {
		assert.Contains(t, err.Error(), want)
	}
}
