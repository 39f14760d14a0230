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
)

var queryInputType = reflect.TypeOf(serving.QueryEndpointInput{})

// latencyBucketsMs are the upper bounds of the request_latency_ms histogram.
var latencyBucketsMs = []float64{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}

// entityMetrics are the cumulative counters of one served entity.
type entityMetrics struct {
	EntityName    string  `json:"entity_name"`
	EntityVersion string  `json:"entity_version"`
	Requests      int64   `json:"requests"`
	Status4xx     int64   `json:"status_4xx"`
	Status5xx     int64   `json:"status_5xx"`
	Buckets       []int64 `json:"buckets"` // per bucket, the last one is +Inf
	LatencySumMs  float64 `json:"latency_sum_ms"`
}

func (ep *endpointRec) metrics(e serving.ServedEntityOutput) *entityMetrics {
	if ep.Metrics == nil {
		ep.Metrics = map[string]*entityMetrics{}
	}
	m, ok := ep.Metrics[e.Name]
	if !ok {
		m = &entityMetrics{EntityName: e.EntityName, EntityVersion: e.EntityVersion, Buckets: make([]int64, len(latencyBucketsMs)+1)}
		ep.Metrics[e.Name] = m
	}
	return m
}

func (m *entityMetrics) observe(status int, latencyMs float64) {
	m.Requests++
	switch {
	case status >= 500:
		m.Status5xx++
	case status >= 400:
		m.Status4xx++
	}
	i := sort.SearchFloat64s(latencyBucketsMs, latencyMs)
	m.Buckets[i]++
	m.LatencySumMs += latencyMs
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
	start := time.Now()
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
		cur.metrics(entity).observe(status, latencyMs)
	}
	s.mu.Unlock()

	w.Header().Set("served-model-name", entity.Name)
	if o.status != 0 {
		code := codeInternal
		if status < 500 {
			code = codeBadRequest
		}
		writeError(w, &apiError{Status: status, Code: code, Message: o.message})
	} else {
		writeJSON(w, http.StatusOK, struct {
			Predictions []any `json:"predictions"`
		}{predictions})
	}
	s.dirty.Store(true)
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
	if err := checkFields(generic, queryInputType, ""); err != nil {
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
// text: request_count_total, request_4xx_count_total,
// request_5xx_count_total (counters) and request_latency_ms (histogram),
// labelled with served_entity_name, entity_name and entity_version.
func (s *Server) endpointsMetrics(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ep, aerr := s.endpoint(r.PathValue("name"))
	var text string
	if aerr == nil {
		s.advanceEndpoint(ep, s.now())
		text = ep.prometheus()
	}
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(text))
}

func (ep *endpointRec) prometheus() string {
	if ep.Current != nil {
		for _, e := range ep.Current.Entities {
			ep.metrics(e)
		}
	}
	names := make([]string, 0, len(ep.Metrics))
	for n := range ep.Metrics {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	labels := func(n string, m *entityMetrics) string {
		return `served_entity_name="` + escapeLabel(n) + `",entity_name="` + escapeLabel(m.EntityName) + `",entity_version="` + escapeLabel(m.EntityVersion) + `"`
	}
	counter := func(metric, help string, get func(*entityMetrics) int64) {
		b.WriteString("# HELP " + metric + " " + help + "\n# TYPE " + metric + " counter\n")
		for _, n := range names {
			m := ep.Metrics[n]
			b.WriteString(metric + "{" + labels(n, m) + "} " + strconv.FormatInt(get(m), 10) + "\n")
		}
	}
	counter("request_count_total", "Requests served by the served entity.", func(m *entityMetrics) int64 { return m.Requests })
	counter("request_4xx_count_total", "Requests the served entity answered with a 4xx status.", func(m *entityMetrics) int64 { return m.Status4xx })
	counter("request_5xx_count_total", "Requests the served entity answered with a 5xx status.", func(m *entityMetrics) int64 { return m.Status5xx })
	b.WriteString("# HELP request_latency_ms Request latency of the served entity in milliseconds.\n# TYPE request_latency_ms histogram\n")
	for _, n := range names {
		m := ep.Metrics[n]
		l := labels(n, m)
		var cum int64
		for i, le := range latencyBucketsMs {
			cum += m.Buckets[i]
			b.WriteString("request_latency_ms_bucket{" + l + `,le="` + strconv.FormatFloat(le, 'f', -1, 64) + `"} ` + strconv.FormatInt(cum, 10) + "\n")
		}
		cum += m.Buckets[len(latencyBucketsMs)]
		b.WriteString("request_latency_ms_bucket{" + l + `,le="+Inf"} ` + strconv.FormatInt(cum, 10) + "\n")
		b.WriteString("request_latency_ms_sum{" + l + "} " + strconv.FormatFloat(m.LatencySumMs, 'f', -1, 64) + "\n")
		b.WriteString("request_latency_ms_count{" + l + "} " + strconv.FormatInt(cum, 10) + "\n")
	}
	return b.String()
}

func escapeLabel(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}
