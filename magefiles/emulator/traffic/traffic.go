// Package traffic is client load in virtual time, for tests and benchmarks
// that run a canary against the emulator: sleeping on the Clock sends the
// requests that clients would have sent meanwhile (through the SDK, or as
// plain HTTP with HTTPQuerier), so the endpoint's traffic split routes them
// and its metrics count them.
package traffic

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"
)

// Querier is the SDK call clients make (w.ServingEndpoints fits, and
// HTTPQuerier).
type Querier interface {
	Query(ctx context.Context, req serving.QueryEndpointInput) (*serving.QueryEndpointResponse, error)
}

// concurrency is how many requests are in flight at once.
const concurrency = 8

// Clock is virtual time in which clients keep calling an endpoint:
// Sleep(d) first sends rate x d requests and then moves Now on by d, at
// once. As a canary's clock it gives every analysis interval its traffic
// and takes no wall time.
type Clock struct {
	endpoint string
	q        Querier

	mu      sync.Mutex
	now     time.Time
	rate    float64
	carry   float64 // the fraction of a request owed to the next sleep
	sleeps  int
	onSleep func(n int)

	sent, failed atomic.Int64
}

// NewClock returns a clock starting at start whose clients send rate
// requests per second of virtual time to endpoint.
func NewClock(q Querier, endpoint string, start time.Time, rate float64) *Clock {
	return &Clock{endpoint: endpoint, q: q, now: start, rate: rate}
}

// SetRate changes the client traffic (0: nobody calls the endpoint).
func (c *Clock) SetRate(rate float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rate = rate
}

// OnSleep sets a function that runs after each sleep with its number
// (1, 2, ...): tests observe the endpoint, or block or cancel there to
// hold a deploy mid-analysis.
func (c *Clock) OnSleep(f func(n int)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onSleep = f
}

// Sleeps is how many times the clock slept.
func (c *Clock) Sleeps() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sleeps
}

// Sent is how many client requests the clock sent, and how many of them
// failed.
func (c *Clock) Sent() (sent, failed int64) { return c.sent.Load(), c.failed.Load() }

// Now implements the canary's clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep implements the canary's clock.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	want := c.rate*d.Seconds() + c.carry
	n := int(want)
	c.carry = want - float64(n)
	c.mu.Unlock()
	c.Send(ctx, n)
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

// Send sends n client requests now, a few at a time, and counts them.
func (c *Clock) Send(ctx context.Context, n int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := c.q.Query(ctx, serving.QueryEndpointInput{Name: c.endpoint, DataframeRecords: []any{
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
