package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/servingmetrics"
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

// MetricsResult is what the metrics export showed for the traffic sent.
type MetricsResult struct {
	Endpoint string
	// Sent is the number of requests the endpoint answered during the run.
	Sent int
	// Requests, Errors4xx and Errors5xx add up the windows that closed after
	// the first read, over all served entities.
	Requests, Errors4xx, Errors5xx float64
	// Entities holds each served entity's numbers.
	Entities map[string]EntityDelta
	// Reset is set when a counter went backwards (a replica restarted), so
	// the increase is a lower bound.
	Reset bool
	// Unattributed counts series that named no served entity.
	Unattributed int
	// Covered is set when the windows read reach past the end of the
	// traffic; a per-minute export shows a minute only once it closed.
	Covered bool
	// Gaps are minutes the reads never showed.
	Gaps []time.Time
	// Reads is how many times the export was read after the traffic.
	Reads int
	// Err is set when the export could not be read or parsed.
	Err    string
	Checks []Check
}

// EntityDelta is one served entity's numbers.
type EntityDelta struct {
	Requests  float64 `json:"requests"`
	Errors4xx float64 `json:"errors_4xx"`
	Errors5xx float64 `json:"errors_5xx"`
}

// Passed reports whether the export showed the traffic and no 5xx.
func (m MetricsResult) Passed() bool { return m.Err == "" && allPassed(m.Checks) }

// VerifyMetrics reads the export after the traffic and checks the windows
// that closed since the read taken before (at start). It re-reads while the
// export lags, up to cfg.Settle.
func VerifyMetrics(ctx context.Context, m MetricsExporter, cfg MetricsConfig, before servingmetrics.Reading, start time.Time, sent int) MetricsResult {
	poll := cfg.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	deadline := time.Now().Add(cfg.Settle)
	var series servingmetrics.Series
	series.Add(before, start)
	series.Next() // what the export said before the traffic
	var seen []servingmetrics.Window
	var openFrom time.Time // the minute still open when the traffic ended
	reads := 0
	for {
		at := time.Now()
		after, err := servingmetrics.Scrape(ctx, m, cfg.Endpoint, at)
		reads++
		if err != nil {
			return MetricsResult{Endpoint: cfg.Endpoint, Sent: sent, Reads: reads, Err: err.Error()}
		}
		series.Add(after, at)
		seen = append(seen, series.Next()...)
		if reads == 1 {
			openFrom = latestGaugeMinute(series.Windows()).Add(time.Minute)
		}
		res := CheckMetrics(seen, series.Gaps(), openFrom, sent)
		res.Endpoint, res.Reads, res.Unattributed = cfg.Endpoint, reads, after.Unattributed
		if c := &res.Checks[0]; res.Unattributed > 0 && c.Outcome != Pass {
			c.Outcome = Fail
			c.Message = strings.TrimPrefix(fmt.Sprintf("%s; %d series named no served entity and were not counted", c.Message, res.Unattributed), "; ")
		}
		// Minutes never read stay unread: re-reading helps only a lagging
		// export.
		if (res.Covered && (res.Requests >= float64(sent) || len(res.Gaps) > 0)) || !time.Now().Add(poll).Before(deadline) {
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

// latestGaugeMinute is the start of the newest gauge window (zero if none).
func latestGaugeMinute(ws []servingmetrics.Window) time.Time {
	var t time.Time
	for _, w := range ws {
		if w.Gauge && w.Start.After(t) {
			t = w.Start
		}
	}
	return t
}

// CheckMetrics checks the windows read after the traffic: the requests
// counted must reach sent once the windows cover the traffic, and no 5xx
// may appear. Every served entity counts, since traffic may be split
// between versions. A per-minute export covers the traffic once it shows
// the minute that was still open when the traffic ended (openFrom, read
// off the export's own timestamps); until then, or when minutes between
// the reads were never read, the count is skipped, saying why.
func CheckMetrics(windows []servingmetrics.Window, gaps []time.Time, openFrom time.Time, sent int) MetricsResult {
	res := MetricsResult{Sent: sent, Entities: map[string]EntityDelta{}, Gaps: gaps}
	for _, w := range windows {
		res.Reset = res.Reset || w.Reset
		if !w.Gauge || !w.Start.Before(openFrom) {
			res.Covered = true
		}
	}
	for name, e := range servingmetrics.Sum(windows) {
		res.Entities[name] = EntityDelta{Requests: e.Requests, Errors4xx: e.Errors4xx, Errors5xx: e.Errors5xx}
		res.Requests += e.Requests
		res.Errors4xx += e.Errors4xx
		res.Errors5xx += e.Errors5xx
	}

	counted := Check{Name: "requests counted", Value: count(res.Requests), Limit: fmt.Sprintf(">= %d sent", sent)}
	switch {
	case res.Requests >= float64(sent):
		counted.Outcome = Pass
	case !res.Covered:
		counted.Outcome = Skip
		counted.Message = fmt.Sprintf("the export's windows read so far end before the traffic did (%s counted of %d); a per-minute export shows a minute once it has closed", count(res.Requests), sent)
	case len(gaps) > 0:
		counted.Outcome = Skip
		counted.Message = fmt.Sprintf("%d minutes of the per-minute export were never read (%s counted of %d), so the count cannot be checked", len(gaps), count(res.Requests), sent)
	default:
		counted.Outcome = Fail
		counted.Message = fmt.Sprintf("metrics export counted %s requests, fewer than the %d sent", count(res.Requests), sent)
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
