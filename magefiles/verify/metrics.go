package verify

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/analysis"
)

// MetricsConfig says how to read the endpoint's metrics export after the
// traffic was sent.
type MetricsConfig struct {
	Endpoint string
	// Settle is how long to keep re-reading an export that does not show
	// all the traffic yet (a real export lags behind by its scrape
	// interval); 0 reads once.
	Settle time.Duration
	// Poll is the pause between reads while settling; 0 means 2s.
	Poll time.Duration
}

// MetricsResult is what the metrics export showed between two reads.
type MetricsResult struct {
	Endpoint string
	// Sent is the number of requests the endpoint answered during the run.
	Sent int
	// Requests, Errors4xx and Errors5xx are the export's increase over all
	// served entities.
	Requests, Errors4xx, Errors5xx float64
	// Entities holds each served entity's increase.
	Entities map[string]EntityDelta
	// Reset is set when a counter went backwards (a replica restarted), so
	// the increase is a lower bound.
	Reset bool
	// Unattributed counts series that named no served entity and so were
	// not counted.
	Unattributed int
	// Reads is how many times the export was read after the traffic.
	Reads int
	// Err is set when the export could not be read or parsed.
	Err    string
	Checks []Check
}

// EntityDelta is one served entity's increase.
type EntityDelta struct {
	Requests  float64 `json:"requests"`
	Errors4xx float64 `json:"errors_4xx"`
	Errors5xx float64 `json:"errors_5xx"`
}

// Passed reports whether the export showed the traffic and no 5xx.
func (m MetricsResult) Passed() bool { return m.Err == "" && allPassed(m.Checks) }

// ScrapeMetrics reads and parses the endpoint's metrics export once.
func ScrapeMetrics(ctx context.Context, m MetricsExporter, endpoint string) (analysis.Snapshot, error) {
	resp, err := m.ExportMetrics(ctx, serving.ExportMetricsRequest{Name: endpoint})
	if err != nil {
		return analysis.Snapshot{}, fmt.Errorf("read metrics export of %s: %s", endpoint, describeError(err))
	}
	if resp.Contents == nil {
		return analysis.Snapshot{}, fmt.Errorf("read metrics export of %s: empty response", endpoint)
	}
	defer resp.Contents.Close()
	snap, err := analysis.ParseMetrics(resp.Contents)
	if err != nil {
		return analysis.Snapshot{}, fmt.Errorf("metrics export of %s: %w", endpoint, err)
	}
	return snap, nil
}

// VerifyMetrics reads the export after the traffic and checks it against the
// read taken before. It re-reads while the export lags, up to cfg.Settle.
func VerifyMetrics(ctx context.Context, m MetricsExporter, cfg MetricsConfig, before analysis.Snapshot, sent int) MetricsResult {
	poll := cfg.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	deadline := time.Now().Add(cfg.Settle)
	reads := 0
	for {
		after, err := ScrapeMetrics(ctx, m, cfg.Endpoint)
		reads++
		if err != nil {
			return MetricsResult{Endpoint: cfg.Endpoint, Sent: sent, Reads: reads, Err: err.Error()}
		}
		res := CheckMetrics(before, after, sent)
		res.Endpoint, res.Reads = cfg.Endpoint, reads
		if res.Requests >= float64(sent) || !time.Now().Add(poll).Before(deadline) {
			return res
		}
		select {
		case <-ctx.Done():
			res.Err = fmt.Sprintf("waiting for the metrics export of %s to show the traffic: %v", cfg.Endpoint, ctx.Err())
			return res
		case <-time.After(poll):
		}
	}
}

// CheckMetrics compares two reads of the export: the requests counted must
// have grown by at least sent, and no 5xx may have appeared. Every served
// entity counts, since traffic may be split between versions.
func CheckMetrics(before, after analysis.Snapshot, sent int) MetricsResult {
	w := analysis.Delta(before, after)
	res := MetricsResult{Sent: sent, Entities: map[string]EntityDelta{}, Unattributed: after.Unattributed}
	for name, e := range w.Entities {
		res.Entities[name] = EntityDelta{Requests: e.Requests, Errors4xx: e.Errors4xx, Errors5xx: e.Errors5xx}
		res.Requests += e.Requests
		res.Errors4xx += e.Errors4xx
		res.Errors5xx += e.Errors5xx
		res.Reset = res.Reset || e.Reset
	}

	counted := Check{Name: "requests counted", Value: count(res.Requests), Limit: fmt.Sprintf(">= %d sent", sent)}
	if res.Requests >= float64(sent) {
		counted.Outcome = Pass
	} else {
		counted.Outcome = Fail
		counted.Message = fmt.Sprintf("metrics export counted %s requests, fewer than the %d sent", count(res.Requests), sent)
		if res.Unattributed > 0 {
			counted.Message += fmt.Sprintf("; %d series named no served entity and were not counted", res.Unattributed)
		}
		if res.Reset {
			counted.Message += "; a counter was reset during the run"
		}
	}
	no5xx := Check{Name: "no new 5xx", Value: count(res.Errors5xx), Limit: "0"}
	if res.Errors5xx == 0 {
		no5xx.Outcome = Pass
	} else {
		no5xx.Outcome = Fail
		no5xx.Message = fmt.Sprintf("metrics export shows %s new 5xx responses (%s)", count(res.Errors5xx), res.fiveXXByEntity())
	}
	res.Checks = []Check{counted, no5xx}
	return res
}

func (m MetricsResult) fiveXXByEntity() string {
	names := make([]string, 0, len(m.Entities))
	for n, e := range m.Entities {
		if e.Errors5xx > 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s: %s", n, count(m.Entities[n].Errors5xx))
	}
	return out
}

func count(f float64) string { return fmt.Sprintf("%.0f", f) }
