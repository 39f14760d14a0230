package rollout

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// abortTimes are the moments of one aborted canary, on the rollout's clock.
type abortTimes struct {
	mu        sync.Mutex
	live      time.Time // the candidate first seen serving
	decided   time.Time // abort decided (StageAborting)
	restored  time.Time // stable READY at 100% (StageAborted)
	atDecided int64     // candidate requests when the abort was decided
}

func (a *abortTimes) watch(wd *world, clock Clock, c *Canary) {
	wd.wire.mu.Lock()
	wd.wire.seen = func(tr map[string]int) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.live.IsZero() && tr[wd.cand.Name] > 0 {
			a.live = clock.Now()
		}
	}
	wd.wire.mu.Unlock()
	c.Progress = func(p Progress) {
		a.mu.Lock()
		defer a.mu.Unlock()
		switch p.Stage {
		case StageAborting:
			a.decided = p.At
			a.atDecided = wd.srv.EntityStats(testEndpoint)[wd.cand.Name].Requests
		case StageAborted:
			a.restored = p.At
		}
	}
}

func (a *abortTimes) report(b *testing.B, interval time.Duration, badRequests int64, after int64) {
	b.ReportMetric(float64(a.decided.Sub(a.live))/float64(interval), "I-to-decision")
	b.ReportMetric(float64(a.restored.Sub(a.live))/float64(interval), "I-to-restored")
	b.ReportMetric(float64(a.restored.Sub(a.decided))/float64(interval), "I-restore")
	b.ReportMetric(float64(badRequests), "bad-cand-req")
	b.ReportMetric(float64(after), "bad-req-after-decision")
}

// BenchmarkCanaryAbortVirtual: a 20%-error candidate at interval I = 1m on
// virtual time (client traffic 5 req/s arrives as time passes), with
// updates that complete at once: the analysis alone, in multiples of I.
func BenchmarkCanaryAbortVirtual(b *testing.B) {
	const interval = time.Minute
	for range b.N {
		b.StopTimer()
		wd := newWorld(b, worldOpts{rate: clientRate, candBehavior: &emulator.Behavior{ErrorRate: 0.2}})
		plan := testPlan()
		c := wd.canary(plan)
		var at abortTimes
		at.watch(wd, wd.clock, c)
		b.StartTimer()
		_, err := c.Run(context.Background())
		b.StopTimer()
		var ae *AbortError
		require.ErrorAs(b, err, &ae)
		require.True(b, ae.Restored)
		bad := wd.srv.EntityStats(testEndpoint)[wd.cand.Name].Requests
		at.report(b, interval, bad, bad-at.atDecided)
		b.ReportMetric(float64(ae.Updates), "updates")
	}
}

// BenchmarkCanaryAbortScaled: the same canary in scaled real time, as the
// demo runs it: the emulator and the rollout at time scale 0.05 (I = 1m of
// service time is 3s of wall time), client traffic of 5 req/s of service
// time flowing all along, endpoint updates taking their service time
// (20s to deploy the candidate, 10s to move traffic), waits through the
// SDK's waiters. Times are service time in multiples of I.
func BenchmarkCanaryAbortScaled(b *testing.B) {
	const (
		scale    = 0.05
		interval = time.Minute
	)
	for range b.N {
		b.StopTimer()
		wd := newWorld(b, worldOpts{candBehavior: &emulator.Behavior{ErrorRate: 0.2}, emulator: emulator.Options{
			TimeScale:       scale,
			Durations:       emulator.Durations{EndpointUpdate: 20 * time.Second, TrafficUpdate: 10 * time.Second},
			DefaultBehavior: &emulator.Behavior{Latency: emulator.Latency{Median: 40 * time.Millisecond, P99: 80 * time.Millisecond}},
		}})
		clock := NewScaledClock(scale)
		c := wd.canary(testPlan())
		c.Clock = clock
		var at abortTimes
		at.watch(wd, clock, c)

		// Clients: 5 requests per second of service time, 4 at a time.
		ctx, stop := context.WithCancel(context.Background())
		var clients sync.WaitGroup
		var sent atomic.Int64
		tick := time.NewTicker(time.Duration(float64(time.Second) * scale / clientRate))
		for range 4 {
			clients.Add(1)
			go func() {
				defer clients.Done()
				for {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
						wd.clock.Send(ctx, 1)
						sent.Add(1)
					}
				}
			}()
		}
		b.StartTimer()
		_, err := c.Run(context.Background())
		b.StopTimer()
		stop()
		tick.Stop()
		clients.Wait()
		var ae *AbortError
		require.ErrorAs(b, err, &ae)
		require.True(b, ae.Restored)
		bad := wd.srv.EntityStats(testEndpoint)[wd.cand.Name].Requests
		at.report(b, interval, bad, bad-at.atDecided)
		b.ReportMetric(float64(sent.Load()), "client-req")
	}
}
