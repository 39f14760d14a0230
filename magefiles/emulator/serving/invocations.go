package serving

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

var queryInputType = reflect.TypeOf(serving.QueryEndpointInput{})

func behaviorKey(model, version string) string { return model + "/" + version }

// pick chooses a served entity by the traffic percentages. Call with s.mu held.
func (s *Store) pick(cfg *config) (serving.ServedEntityOutput, bool) {
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
func (s *Store) invoke(w http.ResponseWriter, r *http.Request) {
	start, arrived := time.Now(), s.clock.Now()
	name := r.PathValue("name")
	body, aerr := core.ReadBody(r)
	if aerr != nil {
		core.WriteError(w, aerr)
		return
	}

	s.mu.Lock()
	ep, aerr := s.endpoint(name)
	if aerr == nil {
		s.advanceEndpoint(ep, s.clock.Now())
		if ep.Current == nil {
			aerr = core.InvalidState("Endpoint '%s' is not ready: its first config is still %s.", name, strings.ToLower(string(ep.UpdateState)))
		}
	}
	if aerr != nil {
		s.mu.Unlock()
		core.WriteError(w, aerr)
		return
	}
	table := ep.Gateway.payloadTable()
	entity, ok := s.pick(ep.Current)
	if !ok {
		s.mu.Unlock()
		core.WriteError(w, core.InvalidState("Endpoint '%s' routes no traffic.", name))
		return
	}
	key := behaviorKey(entity.EntityName, entity.EntityVersion)
	b, ok := s.st.Behaviors[key]
	if !ok && s.defaultBehavior != nil {
		b = *s.defaultBehavior
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
		code := core.CodeInternal
		if status < 500 {
			code = core.CodeBadRequest
		}
		answer = &core.Error{Status: status, Code: code, Message: o.message}
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
	s.counted()
	w.Header().Set("served-model-name", entity.Name)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

// invocationRecords reads the model input of a scoring request: the
// dataframe_records, dataframe_split, instances or inputs of the MLflow
// scoring protocol, checked against the SDK's QueryEndpointInput fields.
func invocationRecords(body []byte) ([]any, *core.Error) {
	var generic any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, badRequest("Invalid JSON in the request body: %v", err)
	}
	if err := core.CheckFields(generic, queryInputType, ""); err != nil {
		return nil, badRequest("%s", err.Message)
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
		return nil, badRequest("The request must contain one of dataframe_records, dataframe_split, instances or inputs.")
	}
	return nil, badRequest("The model input must be a list of records.")
}

func splitRecords(v any) ([]any, *core.Error) {
	split, _ := v.(map[string]any)
	cols, _ := split["columns"].([]any)
	data, _ := split["data"].([]any)
	if cols == nil || data == nil {
		return nil, badRequest("dataframe_split needs columns and data.")
	}
	out := make([]any, 0, len(data))
	for i, row := range data {
		cells, _ := row.([]any)
		if len(cells) != len(cols) {
			return nil, badRequest("dataframe_split row %d has %d values for %d columns.", i, len(cells), len(cols))
		}
		rec := map[string]any{}
		for j, c := range cols {
			rec[toString(c)] = cells[j]
		}
		out = append(out, rec)
	}
	return out, nil
}

func columnsToRecords(m map[string]any) ([]any, *core.Error) {
	n := -1
	for k, v := range m {
		col, ok := v.([]any)
		if !ok || (n >= 0 && len(col) != n) {
			return nil, badRequest("inputs column %s must be a list as long as the others.", k)
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

// badRequest is 400 BAD_REQUEST, the scoring server's answer to input it
// cannot read.
func badRequest(format string, args ...any) *core.Error {
	return core.NewError(http.StatusBadRequest, core.CodeBadRequest, format, args...)
}
