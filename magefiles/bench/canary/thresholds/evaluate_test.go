package thresholds

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var nan = math.NaN()

// sd builds a side from counts; rates are derived by Evaluate.
func sd(entity string, requests, e4xx, e5xx, p95 float64) Side {
	return Side{Entity: entity, Requests: requests, Errors4xx: e4xx, Errors5xx: e5xx, P95Ms: p95}
}

func TestEvaluate(t *testing.T) {
	policy := Policy{MaxErrorRate: 0.05, ErrorRateMargin: 0.01, MaxLatencyRatio: 1.5, MinRequests: 100}
	base := sd("v1", 1000, 4, 5, 100) // 0.5% errors, p95 100ms
	tests := []struct {
		name       string
		m          Measurement
		p          Policy
		want       Phase
		reason     []string // substrings of the reason
		errLimit   float64  // NaN: not applied
		p95LimitMs float64  // NaN: not compared
	}{
		{
			name: "healthy candidate", m: Measurement{sd("v2", 500, 2, 5, 110), base},
			want: PhaseSuccessful, reason: []string{"error rate 1.00% <= limit 5.00% (max_error_rate 5.00%)", "p95 110.0ms <= limit 150.0ms"},
			errLimit: 0.05, p95LimitMs: 150,
		},
		{
			name: "error rate exactly at max_error_rate passes", m: Measurement{sd("v2", 1000, 0, 50, 100), base},
			want: PhaseSuccessful, errLimit: 0.05, p95LimitMs: 150,
		},
		{
			name: "error rate just above max_error_rate fails", m: Measurement{sd("v2", 1000, 0, 51, 100), base},
			want: PhaseFailed, reason: []string{"candidate error rate 5.10% > limit 5.00% (max_error_rate 5.00%)"},
			errLimit: 0.05, p95LimitMs: 150,
		},
		{
			name: "20% 5xx fails", m: Measurement{sd("v2", 500, 0, 100, 100), base},
			want: PhaseFailed, reason: []string{"candidate error rate 20.00% > limit 5.00%"},
			errLimit: 0.05, p95LimitMs: 150,
		},
		{
			name: "bad baseline raises the limit: at baseline+margin passes",
			m:    Measurement{sd("v2", 1000, 0, 90, 100), sd("v1", 1000, 0, 80, 100)},
			want: PhaseSuccessful, reason: []string{"limit 9.00% (baseline 8.00% + margin 1.00%)"},
			errLimit: 0.09, p95LimitMs: 150,
		},
		{
			name: "bad baseline raises the limit: above baseline+margin fails",
			m:    Measurement{sd("v2", 1000, 0, 91, 100), sd("v1", 1000, 0, 80, 100)},
			want: PhaseFailed, reason: []string{"candidate error rate 9.10% > limit 9.00% (baseline 8.00% + margin 1.00%)"},
			errLimit: 0.09, p95LimitMs: 150,
		},
		{
			// 0.01+0.06 is 0.06999999999999999 in float64, 70/1000 is 0.07
			name: "limit at baseline+margin despite float rounding",
			m:    Measurement{sd("v2", 1000, 0, 70, 100), sd("v1", 1000, 0, 10, 100)},
			p:    Policy{MaxErrorRate: 0.02, ErrorRateMargin: 0.06, MaxLatencyRatio: 1.5, MinRequests: 100},
			want: PhaseSuccessful, errLimit: 0.07, p95LimitMs: 150,
		},
		{
			name: "baseline below min_requests is ignored for the error limit",
			m:    Measurement{sd("v2", 1000, 0, 60, 100), sd("v1", 50, 0, 40, 100)},
			want: PhaseFailed, reason: []string{"> limit 5.00% (max_error_rate 5.00%; baseline \"v1\" served 50 requests, fewer than min_requests 100)"},
			errLimit: 0.05, p95LimitMs: nan,
		},
		{
			name: "baseline with no traffic: absolute limits only (first release)",
			m:    Measurement{sd("v2", 1000, 0, 10, 300), sd("v1", 0, 0, 0, nan)},
			want: PhaseSuccessful, reason: []string{"latency not compared: baseline \"v1\" served 0 requests"},
			errLimit: 0.05, p95LimitMs: nan,
		},
		{
			name: "baseline with no traffic still fails a bad candidate",
			m:    Measurement{sd("v2", 1000, 0, 200, 300), sd("v1", 0, 0, 0, nan)},
			want: PhaseFailed, reason: []string{"candidate error rate 20.00% > limit 5.00%"},
			errLimit: 0.05, p95LimitMs: nan,
		},
		{
			name: "no baseline at all",
			m:    Measurement{sd("v2", 1000, 0, 10, 300), unknownSide("")},
			want: PhaseSuccessful, reason: []string{"no baseline"},
			errLimit: 0.05, p95LimitMs: nan,
		},
		{
			name: "candidate served nothing",
			m:    Measurement{sd("v2", 0, 0, 0, nan), base},
			want: PhaseInconclusive, reason: []string{`candidate "v2" served no requests`},
			errLimit: 0.05, p95LimitMs: nan,
		},
		{
			name: "candidate below min_requests with few errors",
			m:    Measurement{sd("v2", 99, 0, 3, 900), base},
			want: PhaseInconclusive, reason: []string{"served 99 requests, fewer than min_requests 100", "error rate so far 3.03%"},
			errLimit: 0.05, p95LimitMs: nan,
		},
		{
			name: "candidate below min_requests: errors exactly at what min_requests allows",
			m:    Measurement{sd("v2", 20, 0, 5, 100), base},
			want: PhaseInconclusive, errLimit: 0.05, p95LimitMs: nan,
		},
		{
			name: "candidate below min_requests: errors beyond what min_requests allows",
			m:    Measurement{sd("v2", 20, 0, 6, 100), base},
			want: PhaseFailed, reason: []string{`candidate "v2" already has 6 5xx in 20 requests, more than the 5 that the 5.00% limit allows over min_requests 100`},
			errLimit: 0.05, p95LimitMs: nan,
		},
		{
			name: "candidate exactly at min_requests is judged",
			m:    Measurement{sd("v2", 100, 0, 6, 100), base},
			want: PhaseFailed, reason: []string{"6.00% > limit 5.00%"},
			errLimit: 0.05, p95LimitMs: 150,
		},
		{
			name: "min_requests 0 still needs one request",
			m:    Measurement{sd("v2", 0, 0, 0, nan), base},
			p:    Policy{MaxErrorRate: 0.05, MaxLatencyRatio: 1.5},
			want: PhaseInconclusive, errLimit: 0.05, p95LimitMs: nan,
		},
		{
			name: "p95 exactly at the ratio passes",
			m:    Measurement{sd("v2", 500, 0, 0, 150), base},
			want: PhaseSuccessful, errLimit: 0.05, p95LimitMs: 150,
		},
		{
			name: "p95 just above the ratio fails",
			m:    Measurement{sd("v2", 500, 0, 0, 150.1), base},
			want: PhaseFailed, reason: []string{"candidate p95 150.1ms > limit 150.0ms (baseline p95 100.0ms x max_latency_ratio 1.5)"},
			errLimit: 0.05, p95LimitMs: 150,
		},
		{
			name: "3x slower candidate fails",
			m:    Measurement{sd("v2", 500, 0, 0, 300), base},
			want: PhaseFailed, reason: []string{"candidate p95 300.0ms"},
			errLimit: 0.05, p95LimitMs: 150,
		},
		{
			name: "candidate p95 unknown: latency not compared",
			m:    Measurement{sd("v2", 500, 0, 0, nan), base},
			want: PhaseSuccessful, reason: []string{"latency not compared: candidate p95 unknown"},
			errLimit: 0.05, p95LimitMs: nan,
		},
		{
			name: "baseline p95 unknown: latency not compared",
			m:    Measurement{sd("v2", 500, 0, 0, 900), sd("v1", 1000, 0, 0, nan)},
			want: PhaseSuccessful, reason: []string{"latency not compared: baseline p95 unknown"},
			errLimit: 0.05, p95LimitMs: nan,
		},
		{
			name: "max_latency_ratio 0 switches latency off",
			m:    Measurement{sd("v2", 500, 0, 0, 900), base},
			p:    Policy{MaxErrorRate: 0.05, MinRequests: 100},
			want: PhaseSuccessful, reason: []string{"latency not compared: max_latency_ratio is 0"},
			errLimit: 0.05, p95LimitMs: nan,
		},
		{
			name: "errors and latency both fail: both named",
			m:    Measurement{sd("v2", 500, 0, 100, 900), base},
			want: PhaseFailed, reason: []string{"candidate error rate 20.00% > limit 5.00%", "; candidate p95 900.0ms > limit 150.0ms"},
			errLimit: 0.05, p95LimitMs: 150,
		},
		{
			name: "4xx do not fail a candidate",
			m:    Measurement{sd("v2", 500, 150, 0, 100), base},
			want: PhaseSuccessful, errLimit: 0.05, p95LimitMs: 150,
		},
		{
			name: "5xx above requests clamps to 100% and fails",
			m:    Measurement{sd("v2", 200, 0, 250, 100), base},
			want: PhaseFailed, reason: []string{"candidate error rate 100.00%"},
			errLimit: 0.05, p95LimitMs: 150,
		},
		{
			name: "rates are recomputed from the counts",
			m:    Measurement{Side{Entity: "v2", Requests: 1000, Errors5xx: 200, ErrorRate: 0, Rate5xx: 0, P95Ms: 100}, base},
			want: PhaseFailed, errLimit: 0.05, p95LimitMs: 150,
		},
		{
			name: "invalid policy is an error",
			m:    Measurement{sd("v2", 500, 0, 0, 100), base},
			p:    Policy{MaxErrorRate: 5, MinRequests: 100},
			want: PhaseError, reason: []string{"max_error_rate 5 must be a fraction"},
			errLimit: nan, p95LimitMs: nan,
		},
		{
			name: "negative request count is an error",
			m:    Measurement{sd("v2", -1, 0, 0, 100), base},
			want: PhaseError, reason: []string{`candidate "v2" requests: negative count -1`},
			errLimit: nan, p95LimitMs: nan,
		},
		{
			name: "NaN 5xx count is an error",
			m:    Measurement{sd("v2", 10, 0, 0, 100), sd("v1", 10, 0, nan, 100)},
			want: PhaseError, reason: []string{`baseline "v1" 5xx`},
			errLimit: nan, p95LimitMs: nan,
		},
		{
			name: "negative p95 is an error",
			m:    Measurement{sd("v2", 10, 0, 0, -3), base},
			want: PhaseError, reason: []string{"not a latency"},
			errLimit: nan, p95LimitMs: nan,
		},
		{
			name: "no candidate named is an error",
			m:    Measurement{sd("", 10, 0, 0, 1), base},
			want: PhaseError, reason: []string{"no candidate entity named"},
			errLimit: nan, p95LimitMs: nan,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			if p == (Policy{}) {
				p = policy
			}
			r := Evaluate(tt.m, p)
			assert.Equal(t, tt.want, r.Phase, r.Reason)
			for _, s := range tt.reason {
				assert.Contains(t, r.Reason, s)
			}
			assert.NotEmpty(t, r.Reason)
			assertSameFloat(t, tt.errLimit, r.ErrorRateLimit, "error rate limit")
			assertSameFloat(t, tt.p95LimitMs, r.P95LimitMs, "p95 limit")
		})
	}
}

func assertSameFloat(t *testing.T, want, got float64, what string) {
	t.Helper()
	if math.IsNaN(want) {
		assert.True(t, math.IsNaN(got), "%s: want NaN, got %v", what, got)
		return
	}
	assert.InDelta(t, want, got, 1e-9, what)
}

func TestErrorResult(t *testing.T) {
	r := ErrorResult(errors.New("GET metrics: 503"))
	assert.Equal(t, PhaseError, r.Phase)
	assert.Equal(t, "no measurement: GET metrics: 503", r.Reason)
	assert.True(t, math.IsNaN(r.ErrorRateLimit))
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		want []string
	}{
		{"defaults", DefaultPolicy(), nil},
		{"zeros are valid", Policy{}, nil},
		{"latency ratio exactly 1", Policy{MaxLatencyRatio: 1}, nil},
		{"error rate above 1", Policy{MaxErrorRate: 1.5}, []string{"max_error_rate 1.5"}},
		{"negative error rate", Policy{MaxErrorRate: -0.1}, []string{"max_error_rate -0.1"}},
		{"NaN margin", Policy{ErrorRateMargin: nan}, []string{"error_rate_margin NaN"}},
		{"latency ratio below 1", Policy{MaxLatencyRatio: 0.5}, []string{"max_latency_ratio 0.5 must be 0 (off) or at least 1"}},
		{"infinite latency ratio", Policy{MaxLatencyRatio: math.Inf(1)}, []string{"max_latency_ratio +Inf"}},
		{"negative min_requests", Policy{MinRequests: -1}, []string{"min_requests -1"}},
		{"every problem reported", Policy{MaxErrorRate: 2, ErrorRateMargin: -1, MaxLatencyRatio: -1, MinRequests: -5},
			[]string{"max_error_rate 2", "error_rate_margin -1", "max_latency_ratio -1", "min_requests -5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "analysis policy")
			for _, s := range tt.want {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

func TestWorst(t *testing.T) {
	assert.Equal(t, PhaseSuccessful, Worst())
	assert.Equal(t, PhaseInconclusive, Worst(PhaseSuccessful, PhaseInconclusive))
	assert.Equal(t, PhaseError, Worst(PhaseInconclusive, PhaseError, PhaseSuccessful))
	assert.Equal(t, PhaseFailed, Worst(PhaseError, PhaseFailed, PhaseInconclusive))
	assert.Equal(t, Phase("Weird"), Worst(PhaseInconclusive, "Weird"), "an unknown phase ranks as an error")
}
