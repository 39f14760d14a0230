package cdtest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// TrafficClock is virtual time in which clients keep calling an endpoint:
// Sleep(d) first sends Rate x d requests through the SDK (routed by the
// endpoint's traffic split, like any client's) and then moves Now on by d,
// at once. As the canary's clock (cd.Options.Canary.Clock) it gives every
// analysis interval its traffic and takes no wall time. Now starts at the
// wall clock, so records and locks read sensibly.
type TrafficClock struct {
	Endpoint string
	q        *databricks.WorkspaceClient

	mu    sync.Mutex
	now   time.Time
	rate  float64
	carry float64
	// onSleep runs after each sleep with its number (1, 2, ...).
	onSleep func(n int)
	sleeps  int

	sent, failed atomic.Int64
}

// NewTrafficClock returns a clock whose clients send rate requests per
// second of virtual time to endpoint on srv.
func NewTrafficClock(t testing.TB, srv *emulator.Server, endpoint string, rate float64) *TrafficClock {
	t.Helper()
	cfg := srv.Config()
	cfg.RateLimitPerSecond = 100000
	w, err := databricks.NewWorkspaceClient(cfg)
	require.NoError(t, err)
	return &TrafficClock{Endpoint: endpoint, q: w, now: time.Now(), rate: rate}
}

// SetRate changes the client traffic (0: nobody calls the endpoint).
func (c *TrafficClock) SetRate(rate float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rate = rate
}

// OnSleep sets a function that runs after each sleep with its number;
// tests block there to hold a deploy mid-analysis.
func (c *TrafficClock) OnSleep(f func(n int)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onSleep = f
}

// Sent is how many client requests the clock sent, and how many of them
// failed.
func (c *TrafficClock) Sent() (sent, failed int64) { return c.sent.Load(), c.failed.Load() }

// Now implements the clock.
func (c *TrafficClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep implements the clock.
func (c *TrafficClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	want := c.rate*d.Seconds() + c.carry
	n := int(want)
	c.carry = want - float64(n)
	c.mu.Unlock()
	c.send(ctx, n)
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.sleeps++
	k, hook := c.sleeps, c.onSleep
	c.mu.Unlock()
	if hook != nil {
		hook(k)
	}
	return ctx.Err()
}

// send sends n requests, 8 at a time.
func (c *TrafficClock) send(ctx context.Context, n int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := c.q.ServingEndpoints.Query(ctx, serving.QueryEndpointInput{Name: c.Endpoint, DataframeRecords: []any{
				map[string]any{"thread_id": "client-" + string(rune('a'+i%26)), "message": "what are the support hours"},
			}})
			c.sent.Add(1)
			if err != nil {
				c.failed.Add(1)
			}
		}()
	}
	wg.Wait()
}
