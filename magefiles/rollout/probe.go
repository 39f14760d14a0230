package rollout

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"
)

// ProbeRequestPrefix starts the client_request_id of every probe, so
// readers of the endpoint's inference table can leave probe traffic out.
const ProbeRequestPrefix = "canary-probe-"

// Probe is bounded traffic the rollout sends itself during each analysis
// interval, through the endpoint like any client (ServingEndpoints.Query),
// so the metrics export has enough candidate requests to judge. Its answers
// are not judged: the export is, for probes and real traffic alike.
type Probe struct {
	// Rate is probes per second of interval.
	Rate float64 `json:"rate"`
	// Cap bounds the probes of one interval.
	Cap int `json:"cap"`
	// Concurrency bounds probes in flight; default 4.
	Concurrency int `json:"concurrency,omitempty"`
	// Records are the model inputs sent, in rotation; default one low-risk
	// question (verify.FirstRequests(cases) gives the integration cases').
	Records []map[string]any `json:"-"`
}

// MaxProbesPerInterval bounds Cap whatever the configuration says.
const MaxProbesPerInterval = 10000

// probeSlices is how many bursts an interval's probes are spread over.
const probeSlices = 10

// DefaultProbeRecord is sent when Probe.Records is empty.
var DefaultProbeRecord = map[string]any{"message": "what is the return window for hardware orders"}

// Validate reports a rate or cap out of range.
func (p *Probe) Validate() error {
	var errs []error
	if math.IsNaN(p.Rate) || math.IsInf(p.Rate, 0) || p.Rate <= 0 {
		errs = append(errs, fmt.Errorf("probe rate %v must be a positive number of requests per second", p.Rate))
	}
	if p.Cap < 1 || p.Cap > MaxProbesPerInterval {
		errs = append(errs, fmt.Errorf("probe cap %d must be between 1 and %d requests per interval", p.Cap, MaxProbesPerInterval))
	}
	if p.Concurrency < 0 || p.Concurrency > 64 {
		errs = append(errs, fmt.Errorf("probe concurrency %d must be between 0 (default 4) and 64", p.Concurrency))
	}
	if len(errs) > 0 {
		return fmt.Errorf("probe: %w", errors.Join(errs...))
	}
	return nil
}

// PerInterval is how many probes one interval sends: Rate x interval,
// at most Cap.
func (p *Probe) PerInterval(interval time.Duration) int {
	n := int(math.Ceil(p.Rate * interval.Seconds()))
	return min(max(n, 0), p.Cap, MaxProbesPerInterval)
}

// ProbeStats count one interval's probes.
type ProbeStats struct {
	Sent   int `json:"sent"`
	Failed int `json:"failed"`
}

// Querier sends one request to a serving endpoint; w.ServingEndpoints is one.
type Querier interface {
	Query(ctx context.Context, req serving.QueryEndpointInput) (*serving.QueryEndpointResponse, error)
}

// prober sends an endpoint's probes; seq numbers them across intervals.
type prober struct {
	probe    *Probe
	q        Querier
	endpoint string
	seq      int
}

// wait sleeps one interval. With probes, the interval is cut into slices
// and each slice starts with its share of the probes, so they spread over
// the interval as real traffic would.
func (p *prober) wait(ctx context.Context, clock Clock, interval time.Duration) (ProbeStats, error) {
	var st ProbeStats
	if p == nil || p.probe == nil {
		return st, clock.Sleep(ctx, interval)
	}
	n := p.probe.PerInterval(interval)
	slices := max(min(n, probeSlices), 1)
	for i := range slices {
		share := n / slices
		if i < n%slices {
			share++
		}
		sent, failed, err := p.burst(ctx, share)
		st.Sent += sent
		st.Failed += failed
		if err != nil {
			return st, err
		}
		if err := clock.Sleep(ctx, interval/time.Duration(slices)); err != nil {
			return st, err
		}
	}
	return st, nil
}

// burst sends n probes, at most Concurrency at a time.
func (p *prober) burst(ctx context.Context, n int) (sent, failed int, err error) {
	conc := p.probe.Concurrency
	if conc <= 0 {
		conc = 4
	}
	records := p.probe.Records
	if len(records) == 0 {
		records = []map[string]any{DefaultProbeRecord}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)
	for range n {
		if ctx.Err() != nil {
			break
		}
		rec := map[string]any{}
		for k, v := range records[p.seq%len(records)] {
			rec[k] = v
		}
		rec["thread_id"] = fmt.Sprintf("canary-probe-%d", p.seq)
		p.seq++
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, qerr := p.q.Query(ctx, serving.QueryEndpointInput{Name: p.endpoint, DataframeRecords: []any{rec}, ClientRequestId: ProbeRequestPrefix + p.endpoint})
			mu.Lock()
			sent++
			if qerr != nil {
				failed++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return sent, failed, ctx.Err()
}
