package verify

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadConfig(t testing.TB, mutate func(*LoadConfig)) LoadConfig {
	cfg := LoadConfig{
		Endpoint:    testEndpoint,
		Requests:    FirstRequests(loadRepoCases(t)),
		Concurrency: 3,
		Duration:    time.Minute, // the cap ends these tests, never the clock
		MaxRequests: 30,
		Thresholds:  Thresholds{MaxErrorRate: 0},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	return cfg
}

func checkByName(t *testing.T, checks []Check, name string) Check {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, checks)
	return Check{}
}

func TestLoadRespectsCapAndConcurrency(t *testing.T) {
	tests := []struct {
		name        string
		concurrency int
		cap         int
	}{
		{"cap ends the run", 3, 40},
		{"more workers than requests", 16, 5},
		{"single worker", 1, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, w := newFakeServing(t, faults{latency: 2 * time.Millisecond})
			res, err := RunLoad(context.Background(), w.ServingEndpoints, loadConfig(t, func(c *LoadConfig) {
				c.Concurrency, c.MaxRequests = tt.concurrency, tt.cap
			}))
			require.NoError(t, err)
			invocations, _, maxInflight := f.stats()
			assert.Equal(t, tt.cap, invocations, "the server saw exactly the cap")
			assert.LessOrEqual(t, maxInflight, tt.concurrency, "never more in flight than the bound")
			assert.Equal(t, tt.cap, res.Sent)
			assert.Equal(t, tt.cap, res.Succeeded)
			assert.Equal(t, tt.cap, res.Answered)
			assert.Equal(t, StopCap, res.StopReason)
			assert.True(t, res.Passed(), "%+v", res.Checks)
			assert.Equal(t, map[string]int{"agent-1": tt.cap}, res.ServedModels)
			assert.LessOrEqual(t, res.P50, res.P95)
			assert.LessOrEqual(t, res.P95, res.P99)
			assert.LessOrEqual(t, res.P99, res.Max)
		})
	}
}

func TestLoadStopsAtDuration(t *testing.T) {
	f, w := newFakeServing(t, faults{latency: time.Millisecond})
	res, err := RunLoad(context.Background(), w.ServingEndpoints, loadConfig(t, func(c *LoadConfig) {
		c.Duration, c.MaxRequests = 30*time.Millisecond, 1_000_000
	}))
	require.NoError(t, err)
	assert.Equal(t, StopDuration, res.StopReason)
	invocations, _, _ := f.stats()
	assert.Equal(t, invocations, res.Sent)
	assert.Less(t, res.Sent, 1_000_000)
}

func TestLoadReportsEveryServedModel(t *testing.T) {
	_, w := newFakeServing(t, faults{servedModels: []string{"agent-1", "agent-2"}})
	res, err := RunLoad(context.Background(), w.ServingEndpoints, loadConfig(t, func(c *LoadConfig) {
		c.Concurrency, c.MaxRequests = 1, 10
	}))
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"agent-1": 5, "agent-2": 5}, res.ServedModels)
}

func TestLoadThresholds(t *testing.T) {
	tests := []struct {
		name      string
		server    faults
		th        Thresholds
		failed    string
		contains  string
		errorKind string
	}{
		{
			name:     "slow server puts p95 over the limit",
			server:   faults{latency: 20 * time.Millisecond},
			th:       Thresholds{MaxP95: 5 * time.Millisecond, MaxErrorRate: 1},
			failed:   "p95 latency",
			contains: "over 5.00ms",
		},
		{
			name:      "5xx puts the error rate over the limit",
			server:    faults{failEvery: 2, failStatus: 500},
			th:        Thresholds{MaxErrorRate: 0.1},
			failed:    "error rate",
			contains:  "error rate 50.00% (15 of 30: 15× HTTP 500) over 10.00%",
			errorKind: "HTTP 500",
		},
		{
			name:     "any error fails a zero error budget",
			server:   faults{failEvery: 30, failStatus: 500},
			th:       Thresholds{},
			failed:   "error rate",
			contains: "1 of 30",
		},
		{
			name:     "slow server misses the throughput floor",
			server:   faults{latency: 20 * time.Millisecond},
			th:       Thresholds{MinRPS: 1_000_000, MaxErrorRate: 1},
			failed:   "throughput",
			contains: "under 1000000.0",
		},
		{
			name:     "every request failing leaves nothing to measure",
			server:   faults{failEvery: 1, failStatus: 500},
			th:       Thresholds{MaxP95: time.Second, MaxErrorRate: 1},
			failed:   "p95 latency",
			contains: "no successful request to measure",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, w := newFakeServing(t, tt.server)
			res, err := RunLoad(context.Background(), w.ServingEndpoints, loadConfig(t, func(c *LoadConfig) { c.Thresholds = tt.th }))
			require.NoError(t, err)
			assert.False(t, res.Passed())
			c := checkByName(t, res.Checks, tt.failed)
			assert.Equal(t, Fail, c.Outcome)
			assert.Contains(t, c.Message, tt.contains)
			if tt.errorKind != "" {
				assert.Positive(t, res.ErrorsByKind[tt.errorKind])
				assert.Equal(t, res.Sent, res.Answered, "HTTP errors were answered by the endpoint")
			}
		})
	}
}

func TestLoadRequestTimeoutCountsAsError(t *testing.T) {
	_, w := newFakeServing(t, faults{block: true})
	res, err := RunLoad(context.Background(), w.ServingEndpoints, loadConfig(t, func(c *LoadConfig) {
		c.MaxRequests, c.Concurrency, c.RequestTimeout = 3, 3, 20*time.Millisecond
	}))
	require.NoError(t, err)
	assert.Equal(t, 3, res.ErrorsByKind["timeout"])
	assert.Equal(t, 0, res.Answered)
	assert.False(t, res.Passed())
}

func TestLoadCancellationStopsPromptly(t *testing.T) {
	f, w := newFakeServing(t, faults{block: true})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for range 3 { // every worker is blocked in the server
			<-f.arrived
		}
		cancel()
	}()
	res, err := RunLoad(ctx, w.ServingEndpoints, loadConfig(t, func(c *LoadConfig) { c.MaxRequests = 1000 }))
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), err)
	assert.Equal(t, StopCancelled, res.StopReason)
	assert.Equal(t, 3, res.Sent)
	assert.Zero(t, res.Errors, "requests cut short by cancellation are not endpoint errors")
	invocations, _, _ := f.stats()
	assert.Equal(t, 3, invocations)
}

func TestLoadConfigValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*LoadConfig)
		want   string
	}{
		{"no cap", func(c *LoadConfig) { c.MaxRequests = 0 }, "max requests 0"},
		{"no workers", func(c *LoadConfig) { c.Concurrency = 0 }, "concurrency 0"},
		{"no duration", func(c *LoadConfig) { c.Duration = 0 }, "duration 0s"},
		{"no requests", func(c *LoadConfig) { c.Requests = nil }, "no requests to send"},
		{"no endpoint", func(c *LoadConfig) { c.Endpoint = "" }, "endpoint is empty"},
		{"error rate over 1", func(c *LoadConfig) { c.Thresholds.MaxErrorRate = 5 }, "not a fraction"},
		{"negative p95", func(c *LoadConfig) { c.Thresholds.MaxP95 = -1 }, "max p95 -1ns is negative"},
		{"negative timeout", func(c *LoadConfig) { c.RequestTimeout = -1 }, "request timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RunLoad(context.Background(), nil, loadConfig(t, tt.mutate))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestPercentileNearestRank(t *testing.T) {
	var v []time.Duration
	for i := 1; i <= 100; i++ {
		v = append(v, time.Duration(i))
	}
	assert.Equal(t, time.Duration(50), percentile(v, 0.50))
	assert.Equal(t, time.Duration(95), percentile(v, 0.95))
	assert.Equal(t, time.Duration(99), percentile(v, 0.99))
	assert.Equal(t, time.Duration(7), percentile([]time.Duration{7}, 0.99))
}

func TestJudgeLoadLimitsAreStrict(t *testing.T) {
	r := LoadResult{Succeeded: 9, Errors: 1, ErrorRate: 0.1, P95: 500 * time.Millisecond, RPS: 10}
	checks := judgeLoad(r, Thresholds{MaxErrorRate: 0.1, MaxP95: 500 * time.Millisecond, MinRPS: 10})
	for _, c := range checks {
		assert.Equal(t, Pass, c.Outcome, "%s: a value exactly at the limit passes", c.Name)
	}
	assert.Len(t, checks, 3)
}
