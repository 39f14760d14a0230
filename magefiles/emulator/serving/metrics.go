package serving

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// MetricsShape is how the metrics export presents its counts.
type MetricsShape string

// The shapes.
const (
	// MetricsGauges is the service's shape (the default): request counts as
	// gauges holding the last complete minute, stamped with its start.
	MetricsGauges MetricsShape = "gauges"
	// MetricsCounters exports cumulative counters and histograms without
	// timestamps, as a Prometheus client library would.
	MetricsCounters MetricsShape = "counters"
)

// MetricsOptions shape the metrics export.
type MetricsOptions struct {
	// Shape is MetricsGauges (default, also for "") or MetricsCounters.
	Shape MetricsShape `json:"shape,omitempty"`
	// OmitLatency leaves request_latency_ms out, as some workspaces do.
	OmitLatency bool `json:"omit_latency,omitempty"`
	// Labels is how a series names its served entity: MetricsByServedModel
	// (default, also for "") or MetricsUnlabelled.
	Labels MetricsLabels `json:"labels,omitempty"`
}

// MetricsLabels is how the metrics export names a series' served entity.
// The export's documentation shows no labels at all; the one spelling an
// integration shows is served_model_name (DataDog's model serving
// dashboard filters by it), so that is the default, and the emulator can
// also export without any per-entity label, which a canary must survive.
type MetricsLabels string

// The label schemes.
const (
	// MetricsByServedModel labels each series served_model_name="<served
	// entity name>".
	MetricsByServedModel MetricsLabels = "served_model_name"
	// MetricsUnlabelled exports one series per family for the whole
	// endpoint, naming no served entity.
	MetricsUnlabelled MetricsLabels = "none"
)

// latencyBucketsMs are the upper bounds of the request_latency_ms histogram.
var latencyBucketsMs = []float64{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}

// counts are requests, errors and latency observations.
type counts struct {
	Requests     int64   `json:"requests"`
	Status4xx    int64   `json:"status_4xx"`
	Status5xx    int64   `json:"status_5xx"`
	Buckets      []int64 `json:"buckets"` // per bucket, the last one is +Inf
	LatencySumMs float64 `json:"latency_sum_ms"`
}

// add folds o into c.
func (c *counts) add(o *counts) {
	c.Requests += o.Requests
	c.Status4xx += o.Status4xx
	c.Status5xx += o.Status5xx
	c.LatencySumMs += o.LatencySumMs
	if len(c.Buckets) < len(o.Buckets) {
		c.Buckets = append(c.Buckets, make([]int64, len(o.Buckets)-len(c.Buckets))...)
	}
	for i, n := range o.Buckets {
		c.Buckets[i] += n
	}
}

func (c *counts) observe(status int, latencyMs float64) {
	if len(c.Buckets) != len(latencyBucketsMs)+1 {
		c.Buckets = make([]int64, len(latencyBucketsMs)+1)
	}
	c.Requests++
	switch {
	case status >= 500:
		c.Status5xx++
	case status >= 400:
		c.Status4xx++
	}
	c.Buckets[sort.SearchFloat64s(latencyBucketsMs, latencyMs)]++
	c.LatencySumMs += latencyMs
}

// keptMinutes bounds the per-minute windows kept per entity.
const keptMinutes = 120

// entityMetrics are one served entity's cumulative counts and its counts per
// minute of service time (keyed by the minute's start, epoch ms).
type entityMetrics struct {
	EntityName    string `json:"entity_name"`
	EntityVersion string `json:"entity_version"`
	counts
	Minutes map[int64]*counts `json:"minutes,omitempty"`
}

func (ep *endpoint) metrics(e serving.ServedEntityOutput) *entityMetrics {
	if ep.Metrics == nil {
		ep.Metrics = map[string]*entityMetrics{}
	}
	m, ok := ep.Metrics[e.Name]
	if !ok {
		m = &entityMetrics{EntityName: e.EntityName, EntityVersion: e.EntityVersion, counts: counts{Buckets: make([]int64, len(latencyBucketsMs)+1)}}
		ep.Metrics[e.Name] = m
	}
	return m
}

// record counts one request in the totals and in its minute.
func (m *entityMetrics) record(status int, latencyMs float64, minute time.Time) {
	m.observe(status, latencyMs)
	if m.Minutes == nil {
		m.Minutes = map[int64]*counts{}
	}
	key := minute.UnixMilli()
	c := m.Minutes[key]
	if c == nil {
		c = &counts{}
		m.Minutes[key] = c
		for k := range m.Minutes {
			if k <= key-keptMinutes*int64(time.Minute/time.Millisecond) {
				delete(m.Minutes, k)
			}
		}
	}
	c.observe(status, latencyMs)
}

// endpointsMetrics exports the endpoint's per-entity metrics as Prometheus
// text, in the shape Options.Metrics selects: by default the service's,
// gauges holding the last complete minute's counts stamped with that
// minute's start (epoch ms), and a per-minute request_latency_ms histogram
// stamped the same way.
func (s *Store) endpointsMetrics(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ep, aerr := s.endpoint(r.PathValue("name"))
	var text string
	if aerr == nil {
		s.advanceEndpoint(ep, s.clock.Now())
		text = ep.prometheus(s.metrics, s.metricsMinute().Add(-time.Minute))
	}
	s.mu.Unlock()
	if aerr != nil {
		core.WriteError(w, aerr)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(text)) // #nosec G705 -- served as text/plain (the Prometheus text format), which no browser renders as HTML
}

// metricsMinute is the minute of service time now: Options.MetricsClock's,
// or the scaled clock's (Scale > 0 on the wall clock), or the clock's.
// Call with s.mu held or not: it reads no state.
func (s *Store) metricsMinute() time.Time {
	now := s.clock.Now()
	switch {
	case s.metricsClock != nil:
		now = s.metricsClock.Now()
	case s.realTime && s.scale > 0:
		now = s.started.Add(time.Duration(float64(now.Sub(s.started)) / s.scale))
	}
	return now.UTC().Truncate(time.Minute)
}

// prometheus renders the export. The families are the ones Databricks'
// metrics export page configures for Datadog (cpu_usage_percentage,
// mem_usage_percentage, provisioned_concurrent_requests_total,
// request_4xx_count_total, request_5xx_count_total, request_count_total as
// gauges, request_latency_ms as a histogram). The request counts and
// latencies are the emulator's invocations; CPU and memory are synthetic,
// and provisioned concurrency is the workload size's upper bound.
func (ep *endpoint) prometheus(o MetricsOptions, minute time.Time) string {
	sizes := map[string]string{}
	if ep.Current != nil {
		for _, e := range ep.Current.Entities {
			ep.metrics(e)
			sizes[e.Name] = e.WorkloadSize
		}
	}
	names := make([]string, 0, len(ep.Metrics))
	for n := range ep.Metrics {
		names = append(names, n)
	}
	sort.Strings(names)
	cumulative := o.Shape == MetricsCounters
	// pick is what one entity exports: its totals, or its minute's counts.
	pick := func(m *entityMetrics) *counts {
		if cumulative {
			return &m.counts
		}
		if c := m.Minutes[minute.UnixMilli()]; c != nil {
			return c
		}
		return &counts{}
	}
	// series are the label sets with their counts: one per served entity,
	// or one for the whole endpoint when the export names none.
	type series struct {
		labels string
		counts *counts
		size   string
	}
	var all []series
	if o.Labels == MetricsUnlabelled {
		sum := &counts{}
		size := ""
		for _, n := range names {
			sum.add(pick(ep.Metrics[n]))
			size = max(size, sizes[n])
		}
		all = append(all, series{counts: sum, size: size})
	} else {
		for _, n := range names {
			all = append(all, series{labels: `served_model_name="` + escapeLabel(n) + `"`, counts: pick(ep.Metrics[n]), size: sizes[n]})
		}
	}
	suffix, kind := "", "counter"
	if !cumulative {
		suffix, kind = " "+strconv.FormatInt(minute.UnixMilli(), 10), "gauge"
	}
	var b strings.Builder
	braces := func(labels string) string {
		if labels == "" {
			return ""
		}
		return "{" + labels + "}"
	}
	family := func(metric, kind, help string, get func(series) string) {
		b.WriteString("# HELP " + metric + " " + help + "\n# TYPE " + metric + " " + kind + "\n")
		for _, sr := range all {
			b.WriteString(metric + braces(sr.labels) + " " + get(sr) + suffix + "\n")
		}
	}
	count := func(get func(*counts) int64) func(series) string {
		return func(sr series) string { return strconv.FormatInt(get(sr.counts), 10) }
	}
	span := "since the served entity started"
	if !cumulative {
		span = "during the last minute"
	}
	family("cpu_usage_percentage", "gauge", "Average CPU utilization across the server replicas "+span+" (synthetic).", func(sr series) string {
		return strconv.FormatFloat(min(100, 2+float64(sr.counts.Requests)/10), 'f', -1, 64)
	})
	family("mem_usage_percentage", "gauge", "Average memory utilization across the server replicas "+span+" (synthetic).", func(sr series) string {
		return strconv.FormatFloat(min(100, 20+float64(sr.counts.Requests)/50), 'f', -1, 64)
	})
	family("provisioned_concurrent_requests_total", "gauge", "Parallel requests the served entity's workload size can handle.", func(sr series) string {
		return strconv.Itoa(workloadConcurrency(sr.size))
	})
	family("request_count_total", kind, "Requests served by the served entity "+span+".", count(func(c *counts) int64 { return c.Requests }))
	family("request_4xx_count_total", kind, "Requests answered with a 4xx status "+span+".", count(func(c *counts) int64 { return c.Status4xx }))
	family("request_5xx_count_total", kind, "Requests answered with a 5xx status "+span+".", count(func(c *counts) int64 { return c.Status5xx }))
	if o.OmitLatency {
		return b.String()
	}
	b.WriteString("# HELP request_latency_ms Request latency of the served entity in milliseconds " + span + ".\n# TYPE request_latency_ms histogram\n")
	for _, sr := range all {
		c := sr.counts
		l := sr.labels
		if l != "" {
			l += ","
		}
		var cum int64
		for i, le := range latencyBucketsMs {
			if i < len(c.Buckets) {
				cum += c.Buckets[i]
			}
			b.WriteString("request_latency_ms_bucket{" + l + `le="` + strconv.FormatFloat(le, 'f', -1, 64) + `"} ` + strconv.FormatInt(cum, 10) + suffix + "\n")
		}
		if len(c.Buckets) > len(latencyBucketsMs) {
			cum += c.Buckets[len(latencyBucketsMs)]
		}
		b.WriteString("request_latency_ms_bucket{" + l + `le="+Inf"} ` + strconv.FormatInt(cum, 10) + suffix + "\n")
		b.WriteString("request_latency_ms_sum" + braces(sr.labels) + " " + strconv.FormatFloat(c.LatencySumMs, 'f', -1, 64) + suffix + "\n")
		b.WriteString("request_latency_ms_count" + braces(sr.labels) + " " + strconv.FormatInt(cum, 10) + suffix + "\n")
	}
	return b.String()
}

// workloadConcurrency is the upper bound of a workload size's provisioned
// concurrency (Small 4, Medium 16, Large 64, per Databricks' serving docs).
func workloadConcurrency(size string) int {
	switch size {
	case "Medium":
		return 16
	case "Large":
		return 64
	}
	return 4
}

func escapeLabel(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}
