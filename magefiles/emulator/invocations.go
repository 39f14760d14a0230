package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

var queryInputType = reflect.TypeOf(serving.QueryEndpointInput{})

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

func (ep *endpointRec) metrics(e serving.ServedEntityOutput) *entityMetrics {
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

func behaviorKey(model, version string) string { return model + "/" + version }

// pick chooses a served entity by the traffic percentages. Call with s.mu held.
func (s *Server) pick(cfg *configRec) (serving.ServedEntityOutput, bool) {
	x := s.rng.IntN(100)
	for _, r := range cfg.Routes {
		if x < r.TrafficPercentage {
			if e := cfg.entity(r.ServedEntityName); e != nil {
				return *e, true
			}
		}
		x -= r.TrafficPercentage
	}
	return serving.ServedEntityOutput{}, false
}

// invoke answers POST /serving-endpoints/{name}/invocations: it routes the
// request to a served entity by the traffic config, lets that version's
// Behavior answer, sets the served-model-name header and counts the result in
// the entity's metrics.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	start, arrived := time.Now(), s.now()
	name := r.PathValue("name")
	body, aerr := readBody(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}

	s.mu.Lock()
	ep, aerr := s.endpoint(name)
	if aerr == nil {
		s.advanceEndpoint(ep, s.now())
		if ep.Current == nil {
			aerr = invalidState("Endpoint '%s' is not ready: its first config is still %s.", name, strings.ToLower(string(ep.UpdateState)))
		}
	}
	if aerr != nil {
		s.mu.Unlock()
		writeError(w, aerr)
		return
	}
	table := ep.Gateway.payloadTable()
	entity, ok := s.pick(ep.Current)
	if !ok {
		s.mu.Unlock()
		writeError(w, invalidState("Endpoint '%s' routes no traffic.", name))
		return
	}
	key := behaviorKey(entity.EntityName, entity.EntityVersion)
	b, ok := s.st.Behaviors[key]
	if !ok && s.opts.DefaultBehavior != nil {
		b = *s.opts.DefaultBehavior
	}
	if p := s.predictors[key]; p != nil {
		b.Predict = p
	}
	entityID := ep.Current.entityID(entity.Name)
	records, inErr := invocationRecords(body)
	var o outcome
	if inErr == nil {
		o = b.decide(s.rng, records)
	} else {
		o = outcome{latency: b.Latency.draw(s.rng), status: inErr.Status, message: inErr.Message}
	}
	s.mu.Unlock()

	var predictions []any
	if o.status == 0 {
		predictions = b.predict(records)
	}
	if s.realTime && o.latency > 0 && s.scale > 0 {
		t := time.NewTimer(time.Duration(float64(o.latency) * s.scale))
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}

	status := http.StatusOK
	if o.status != 0 {
		status = o.status
	}
	// Count the request before answering it, so a client that has its
	// answer also finds it in the metrics. The histogram reports service
	// latency: the drawn model latency plus the emulator's own handling
	// time, not the scaled sleep.
	overhead := time.Since(start)
	if s.realTime && s.scale > 0 {
		overhead -= time.Duration(float64(o.latency) * s.scale)
	}
	latencyMs := float64(o.latency+max(overhead, 0)) / float64(time.Millisecond)
	s.mu.Lock()
	if cur, ok := s.st.Endpoints[name]; ok {
		cur.metrics(entity).record(status, latencyMs, s.metricsMinute())
	}
	s.mu.Unlock()

	var answer any = struct {
		Predictions []any `json:"predictions"`
	}{predictions}
	if o.status != 0 {
		code := codeInternal
		if status < 500 {
			code = codeBadRequest
		}
		answer = &apiError{Status: status, Code: code, Message: o.message}
	}
	raw, err := json.Marshal(answer)
	if err != nil {
		status, raw = http.StatusInternalServerError, []byte(`{"error_code":"INTERNAL_ERROR","message":"encode response"}`)
	}
	// The payload table has the row before the client has its answer.
	s.logPayload(table, captured{
		start: arrived, status: status, latency: o.latency, request: body, response: raw,
		entityID: entityID, requester: s.user, clientReq: clientRequestID(body),
	})
	s.dirty.Store(true)
	w.Header().Set("served-model-name", entity.Name)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

// invocationRecords reads the model input of a scoring request: the
// dataframe_records, dataframe_split, instances or inputs of the MLflow
// scoring protocol, checked against the SDK's QueryEndpointInput fields.
func invocationRecords(body []byte) ([]any, *apiError) {
	var generic any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, newError(http.StatusBadRequest, codeBadRequest, "Invalid JSON in the request body: %v", err)
	}
	if err := core.CheckFields(generic, queryInputType, ""); err != nil {
		return nil, newError(http.StatusBadRequest, codeBadRequest, "%s", err.Message)
	}
	obj, _ := generic.(map[string]any)
	switch {
	case obj["dataframe_records"] != nil:
		if list, ok := obj["dataframe_records"].([]any); ok {
			return list, nil
		}
	case obj["dataframe_split"] != nil:
		return splitRecords(obj["dataframe_split"])
	case obj["instances"] != nil:
		if list, ok := obj["instances"].([]any); ok {
			return list, nil
		}
	case obj["inputs"] != nil:
		if list, ok := obj["inputs"].([]any); ok {
			return list, nil
		}
		if m, ok := obj["inputs"].(map[string]any); ok {
			return columnsToRecords(m)
		}
	default:
		return nil, newError(http.StatusBadRequest, codeBadRequest, "The request must contain one of dataframe_records, dataframe_split, instances or inputs.")
	}
	return nil, newError(http.StatusBadRequest, codeBadRequest, "The model input must be a list of records.")
}

func splitRecords(v any) ([]any, *apiError) {
	split, _ := v.(map[string]any)
	cols, _ := split["columns"].([]any)
	data, _ := split["data"].([]any)
	if cols == nil || data == nil {
		return nil, newError(http.StatusBadRequest, codeBadRequest, "dataframe_split needs columns and data.")
	}
	out := make([]any, 0, len(data))
	for i, row := range data {
		cells, _ := row.([]any)
		if len(cells) != len(cols) {
			return nil, newError(http.StatusBadRequest, codeBadRequest, "dataframe_split row %d has %d values for %d columns.", i, len(cells), len(cols))
		}
		rec := map[string]any{}
		for j, c := range cols {
			rec[toString(c)] = cells[j]
		}
		out = append(out, rec)
	}
	return out, nil
}

func columnsToRecords(m map[string]any) ([]any, *apiError) {
	n := -1
	for k, v := range m {
		col, ok := v.([]any)
		if !ok || (n >= 0 && len(col) != n) {
			return nil, newError(http.StatusBadRequest, codeBadRequest, "inputs column %s must be a list as long as the others.", k)
		}
		n = len(col)
	}
	out := make([]any, max(n, 0))
	for i := range out {
		rec := map[string]any{}
		for k, v := range m {
			rec[k] = v.([]any)[i]
		}
		out[i] = rec
	}
	return out, nil
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	default:
		raw, _ := json.Marshal(x)
		return string(raw)
	}
}

// endpointsMetrics exports the endpoint's per-entity metrics as Prometheus
// text, in the shape Options.Metrics selects: by default the service's,
// gauges holding the last complete minute's counts stamped with that
// minute's start (epoch ms), and a per-minute request_latency_ms histogram
// stamped the same way.
func (s *Server) endpointsMetrics(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ep, aerr := s.endpoint(r.PathValue("name"))
	var text string
	if aerr == nil {
		s.advanceEndpoint(ep, s.now())
		text = ep.prometheus(s.opts.Metrics, s.metricsMinute().Add(-time.Minute))
	}
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(text))
}

// metricsMinute is the minute of service time now: Options.MetricsClock's,
// or the scaled clock's (TimeScale > 0 on the wall clock), or the clock's.
// Call with s.mu held or not: it reads no state.
func (s *Server) metricsMinute() time.Time {
	now := s.now()
	switch {
	case s.opts.MetricsClock != nil:
		now = s.opts.MetricsClock.Now()
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
func (ep *endpointRec) prometheus(o MetricsOptions, minute time.Time) string {
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
