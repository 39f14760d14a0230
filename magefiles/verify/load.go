package verify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"
)

// LoadConfig bounds a load test three ways: workers in flight, wall time and
// a hard cap on requests, whichever ends it first.
//
// The SDK's workspace client throttles itself (15 requests/s by default,
// databricks.Config.RateLimitPerSecond) and keeps few idle connections per
// host; build the client from a config passed through TuneForLoad, or the
// measurement is the client's limit.
type LoadConfig struct {
	Endpoint string
	// Requests are cycled over in order; usually FirstRequests(cases).
	Requests []map[string]any
	// Concurrency is the number of requests in flight at most.
	Concurrency int
	// Duration stops issuing new requests; in-flight ones finish.
	Duration time.Duration
	// MaxRequests is the hard cap on requests sent.
	MaxRequests int
	// RequestTimeout bounds one request, 0 leaves the SDK's timeout.
	RequestTimeout time.Duration
	Thresholds     Thresholds
}

// Thresholds are the limits a load test must meet, usually from the bundle
// variables of the target. Limits are strict: a value exactly at the limit
// passes.
type Thresholds struct {
	// MaxP95 is the highest acceptable 95th percentile latency; 0 is
	// unchecked.
	MaxP95 time.Duration
	// MaxErrorRate is the highest acceptable fraction of failed requests,
	// 0..1. It is always checked: 0 allows no errors.
	MaxErrorRate float64
	// MinRPS is the lowest acceptable throughput of successful requests per
	// second; 0 is unchecked.
	MinRPS float64
}

// Validate rejects limits that cannot be met or make no sense.
func (t Thresholds) Validate() error {
	var errs []error
	if t.MaxP95 < 0 {
		errs = append(errs, fmt.Errorf("max p95 %s is negative", t.MaxP95))
	}
	if math.IsNaN(t.MaxErrorRate) || t.MaxErrorRate < 0 || t.MaxErrorRate > 1 {
		errs = append(errs, fmt.Errorf("max error rate %v is not a fraction between 0 and 1", t.MaxErrorRate))
	}
	if math.IsNaN(t.MinRPS) || t.MinRPS < 0 {
		errs = append(errs, fmt.Errorf("min rps %v is negative", t.MinRPS))
	}
	return errors.Join(errs...)
}

// Validate rejects a load test without every bound, so a typo cannot turn
// into unbounded traffic.
func (c LoadConfig) Validate() error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("endpoint is empty"))
	}
	if len(c.Requests) == 0 {
		errs = append(errs, errors.New("no requests to send"))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency %d, want at least 1", c.Concurrency))
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration %s, want more than 0", c.Duration))
	}
	if c.MaxRequests < 1 {
		errs = append(errs, fmt.Errorf("max requests %d, want at least 1", c.MaxRequests))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("request timeout %s is negative", c.RequestTimeout))
	}
	if err := c.Thresholds.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	return nil
}

// Why a load test stopped.
const (
	StopDuration  = "duration"
	StopCap       = "request cap"
	StopCancelled = "cancelled"
)

// LoadResult is what a load test measured. Latency percentiles are over
// successful requests; errors are counted, not timed.
type LoadResult struct {
	Endpoint   string
	Config     LoadConfig
	StopReason string

	// Sent counts requests started, Succeeded and Errors those that ended;
	// requests cut short by cancellation are in neither.
	Sent, Succeeded, Errors int
	// Answered counts requests the endpoint answered, with a prediction or
	// an HTTP error: what its metrics export should show.
	Answered int
	// ErrorsByKind counts errors by "HTTP 500", "timeout", "transport",
	// "bad response".
	ErrorsByKind map[string]int
	// ServedModels counts successful answers per served model (the
	// served-model-name header); "(none)" when the header was missing.
	ServedModels map[string]int

	Elapsed                       time.Duration
	Min, P50, P95, P99, Max, Mean time.Duration
	// RPS is successful requests per second of Elapsed.
	RPS float64
	// ErrorRate is Errors / (Succeeded + Errors).
	ErrorRate float64

	Checks []Check
}

// Check is one comparison against a limit.
type Check struct {
	Name    string  `json:"name"`
	Outcome Outcome `json:"outcome"`
	// Value and Limit are rendered for people: "412ms", "<= 500ms".
	Value   string `json:"value"`
	Limit   string `json:"limit"`
	Message string `json:"message,omitempty"`
}

// Passed reports whether every threshold check passed.
func (r LoadResult) Passed() bool { return allPassed(r.Checks) }

func allPassed(checks []Check) bool {
	for _, c := range checks {
		if c.Outcome == Fail {
			return false
		}
	}
	return len(checks) > 0
}

type loadSample struct {
	latency     time.Duration
	kind        string // "" on success
	answered    bool
	servedModel string
}

// RunLoad sends the configured traffic and compares it with the thresholds.
// It returns an error only when the test could not run (invalid config) or
// was cancelled; thresholds not met are failed Checks in the result.
func RunLoad(ctx context.Context, q Querier, cfg LoadConfig) (LoadResult, error) {
	if err := cfg.Validate(); err != nil {
		return LoadResult{}, err
	}
	workers := min(cfg.Concurrency, cfg.MaxRequests)
	stop := make(chan struct{})
	timer := time.AfterFunc(cfg.Duration, func() { close(stop) })
	defer timer.Stop()

	var issued atomic.Int64
	perWorker := make([][]loadSample, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			perWorker[w] = loadWorker(ctx, q, cfg, stop, &issued)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	res := summarize(cfg, perWorker, elapsed)
	res.Sent = int(min(issued.Load(), int64(cfg.MaxRequests)))
	switch {
	case ctx.Err() != nil:
		res.StopReason = StopCancelled
	case res.Sent >= cfg.MaxRequests:
		res.StopReason = StopCap
	default:
		res.StopReason = StopDuration
	}
	res.Checks = judgeLoad(res, cfg.Thresholds)
	if ctx.Err() != nil {
		return res, fmt.Errorf("load test on %s cancelled after %d requests: %w", cfg.Endpoint, res.Sent, ctx.Err())
	}
	return res, nil
}

// loadWorker sends requests until the duration ends, the cap is reached or
// the context is cancelled, and keeps its samples to itself so workers never
// share a lock.
func loadWorker(ctx context.Context, q Querier, cfg LoadConfig, stop <-chan struct{}, issued *atomic.Int64) []loadSample {
	var samples []loadSample
	for {
		select {
		case <-stop:
			return samples
		case <-ctx.Done():
			return samples
		default:
		}
		n := issued.Add(1)
		if n > int64(cfg.MaxRequests) {
			return samples
		}
		record := cfg.Requests[(n-1)%int64(len(cfg.Requests))]
		s, ok := loadOne(ctx, q, cfg, record)
		if ok {
			samples = append(samples, s)
		}
	}
}

// loadOne sends one request; ok is false when the run was cancelled under it.
func loadOne(ctx context.Context, q Querier, cfg LoadConfig, record map[string]any) (loadSample, bool) {
	rctx := ctx
	if cfg.RequestTimeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, cfg.RequestTimeout)
		defer cancel()
	}
	t0 := time.Now()
	resp, err := q.Query(rctx, serving.QueryEndpointInput{Name: cfg.Endpoint, DataframeRecords: []any{record}, ClientRequestId: ClientRequestPrefix + "load"})
	s := loadSample{latency: time.Since(t0)}
	switch {
	case err == nil && len(resp.Predictions) == 1:
		s.answered = true
		s.servedModel = resp.ServedModelName
	case err == nil:
		s.answered = true
		s.kind = "bad response"
	case httpStatus(err) != 0:
		s.answered = true
		s.kind = fmt.Sprintf("HTTP %d", httpStatus(err))
	case ctx.Err() != nil:
		return s, false
	case rctx.Err() != nil:
		s.kind = "timeout"
	default:
		s.kind = "transport"
	}
	return s, true
}

func summarize(cfg LoadConfig, perWorker [][]loadSample, elapsed time.Duration) LoadResult {
	res := LoadResult{
		Endpoint:     cfg.Endpoint,
		Config:       cfg,
		Elapsed:      elapsed,
		ErrorsByKind: map[string]int{},
		ServedModels: map[string]int{},
	}
	var lat []time.Duration
	var total time.Duration
	for _, samples := range perWorker {
		for _, s := range samples {
			if s.answered {
				res.Answered++
			}
			if s.kind != "" {
				res.Errors++
				res.ErrorsByKind[s.kind]++
				continue
			}
			res.Succeeded++
			name := s.servedModel
			if name == "" {
				name = "(none)"
			}
			res.ServedModels[name]++
			lat = append(lat, s.latency)
			total += s.latency
		}
	}
	if done := res.Succeeded + res.Errors; done > 0 {
		res.ErrorRate = float64(res.Errors) / float64(done)
	}
	if elapsed > 0 {
		res.RPS = float64(res.Succeeded) / elapsed.Seconds()
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		res.Min, res.Max = lat[0], lat[len(lat)-1]
		res.P50 = percentile(lat, 0.50)
		res.P95 = percentile(lat, 0.95)
		res.P99 = percentile(lat, 0.99)
		res.Mean = total / time.Duration(len(lat))
	}
	return res
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// judgeLoad compares the measurement with the thresholds. A test that
// measured nothing fails rather than passing vacuously.
func judgeLoad(r LoadResult, t Thresholds) []Check {
	var checks []Check
	done := r.Succeeded + r.Errors
	errCheck := Check{Name: "error rate", Limit: fmt.Sprintf("<= %s", pct(t.MaxErrorRate))}
	switch {
	case done == 0:
		errCheck.Outcome, errCheck.Value, errCheck.Message = Fail, "n/a", "no request completed"
	case r.ErrorRate > t.MaxErrorRate:
		errCheck.Outcome, errCheck.Value = Fail, pct(r.ErrorRate)
		errCheck.Message = fmt.Sprintf("error rate %s (%d of %d: %s) over %s", pct(r.ErrorRate), r.Errors, done, kindsLine(r.ErrorsByKind), pct(t.MaxErrorRate))
	default:
		errCheck.Outcome, errCheck.Value = Pass, pct(r.ErrorRate)
	}
	checks = append(checks, errCheck)

	if t.MaxP95 > 0 {
		c := Check{Name: "p95 latency", Limit: "<= " + ms(t.MaxP95)}
		switch {
		case r.Succeeded == 0:
			c.Outcome, c.Value, c.Message = Fail, "n/a", "no successful request to measure"
		case r.P95 > t.MaxP95:
			c.Outcome, c.Value = Fail, ms(r.P95)
			c.Message = fmt.Sprintf("p95 latency %s over %s", ms(r.P95), ms(t.MaxP95))
		default:
			c.Outcome, c.Value = Pass, ms(r.P95)
		}
		checks = append(checks, c)
	}
	if t.MinRPS > 0 {
		c := Check{Name: "throughput", Limit: fmt.Sprintf(">= %.1f req/s", t.MinRPS), Value: fmt.Sprintf("%.1f req/s", r.RPS)}
		if r.RPS < t.MinRPS {
			c.Outcome = Fail
			c.Message = fmt.Sprintf("throughput %.1f req/s under %.1f", r.RPS, t.MinRPS)
		} else {
			c.Outcome = Pass
		}
		checks = append(checks, c)
	}
	return checks
}

func pct(f float64) string { return fmt.Sprintf("%.2f%%", f*100) }

// ms renders a duration in milliseconds with sub-millisecond precision only
// where it matters.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 10 {
		return fmt.Sprintf("%.2fms", v)
	}
	return fmt.Sprintf("%.0fms", v)
}

func kindsLine(kinds map[string]int) string {
	keys := make([]string, 0, len(kinds))
	for k := range kinds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := ""
	for i, k := range keys {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%d× %s", kinds[k], k)
	}
	return out
}
