package emulator

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/serving"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func query(t testing.TB, w *databricks.WorkspaceClient, endpoint string, records ...any) (*serving.QueryEndpointResponse, error) {
	t.Helper()
	return w.ServingEndpoints.Query(ctx(t), serving.QueryEndpointInput{Name: endpoint, DataframeRecords: records})
}

func prediction(t *testing.T, resp *serving.QueryEndpointResponse, i int) map[string]any {
	t.Helper()
	require.Greater(t, len(resp.Predictions), i)
	p, ok := resp.Predictions[i].(map[string]any)
	require.True(t, ok, "prediction %d is an object: %#v", i, resp.Predictions[i])
	return p
}

func TestInvocationsFollowTheContract(t *testing.T) {
	srv, w := start(t, Options{})
	seed(t, srv, "agent", 1)
	create(t, w, served("ep", "agent", []string{"1"}, nil))

	resp, err := query(t, w, "ep",
		map[string]any{"thread_id": "t-1", "message": "delete all records for customer 42"},
		map[string]any{"thread_id": "t-2", "message": "what are the support hours"})
	require.NoError(t, err)
	assert.Equal(t, "agent-1", resp.ServedModelName, "from the served-model-name header")
	high, low := prediction(t, resp, 0), prediction(t, resp, 1)
	assert.Equal(t, "interrupted", high["status"])
	assert.Equal(t, "delete_records", high["tool"])
	interrupt, _ := high["interrupt"].(map[string]any)
	require.NotNil(t, interrupt)
	assert.Equal(t, "completed", low["status"])

	resp, err = query(t, w, "ep", map[string]any{"thread_id": "t-1", "resume": "approve", "checkpoint": interrupt["checkpoint"]})
	require.NoError(t, err)
	assert.Equal(t, "completed", prediction(t, resp, 0)["status"])

	// dataframe_split is the other pandas orientation.
	split, err := w.ServingEndpoints.Query(ctx(t), serving.QueryEndpointInput{Name: "ep", DataframeSplit: &serving.DataframeSplitInput{
		Columns: []any{"thread_id", "message"}, Data: []any{[]any{"a", "refund order 7"}},
	}})
	require.NoError(t, err)
	assert.Equal(t, "issue_refund", prediction(t, split, 0)["tool"])

	_, err = w.ServingEndpoints.Query(ctx(t), serving.QueryEndpointInput{Name: "ep"})
	require.ErrorIs(t, err, apierr.ErrBadRequest, "no model input")
	_, err = query(t, w, "nope", map[string]any{"message": "x"})
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)

	stats := srv.EntityStats("ep")["agent-1"]
	assert.Equal(t, EntityStats{EntityName: "agent", EntityVersion: "1", Requests: 4, Status4xx: 1}, EntityStats{
		EntityName: stats.EntityName, EntityVersion: stats.EntityVersion, Requests: stats.Requests, Status4xx: stats.Status4xx, Status5xx: stats.Status5xx,
	})
}

func TestUnknownInvocationFieldIsRejected(t *testing.T) {
	srv, w := start(t, Options{})
	seed(t, srv, "agent", 1)
	create(t, w, served("ep", "agent", []string{"1"}, nil))
	req, err := http.NewRequest(http.MethodPost, srv.URL()+"/serving-endpoints/ep/invocations", strings.NewReader(`{"dataframe_record": [{"message": "x"}]}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+srv.Token())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(body), "dataframe_record")
	assert.Equal(t, "agent-1", resp.Header.Get("served-model-name"))
}

// TestVersionBehaviors covers the emulator's scripted behaviours; how a
// model's errors and platform faults answer is held in tests/contract.
func TestVersionBehaviors(t *testing.T) {
	tests := []struct {
		name     string
		behavior Behavior
		check    func(t *testing.T, resp *serving.QueryEndpointResponse, err error, stats EntityStats)
	}{
		{"4xx", Behavior{ClientErrorRate: 1}, func(t *testing.T, _ *serving.QueryEndpointResponse, err error, stats EntityStats) {
			require.ErrorIs(t, err, apierr.ErrBadRequest)
			assert.Equal(t, int64(1), stats.Status4xx)
		}},
		{"fixed prediction", Behavior{Responses: []FixedResponse{{Match: "DELETE", Prediction: map[string]any{"status": "completed", "tool": "delete_records"}}}},
			func(t *testing.T, resp *serving.QueryEndpointResponse, err error, _ EntityStats) {
				require.NoError(t, err)
				assert.Equal(t, "completed", prediction(t, resp, 0)["status"], "a bad model that deletes without asking")
			}},
		{"fixed failure", Behavior{Responses: []FixedResponse{{Match: "delete", Status: 422}}},
			func(t *testing.T, _ *serving.QueryEndpointResponse, err error, stats EntityStats) {
				var ae *apierr.APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, 422, ae.StatusCode)
				assert.Equal(t, int64(1), stats.Status4xx)
			}},
		{"latency", Behavior{Latency: FixedLatency(1500 * time.Millisecond)},
			func(t *testing.T, _ *serving.QueryEndpointResponse, err error, stats EntityStats) {
				require.NoError(t, err)
				assert.GreaterOrEqual(t, stats.LatencySumMs, 1500.0, "metrics report service latency; TimeScale 0 sleeps none of it")
			}},
		{"custom predict", Behavior{Predict: func(records []any) []any { return []any{"custom"} }},
			func(t *testing.T, resp *serving.QueryEndpointResponse, err error, _ EntityStats) {
				require.NoError(t, err)
				assert.Equal(t, []any{"custom"}, resp.Predictions)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, w := start(t, Options{})
			seed(t, srv, "agent", 1)
			create(t, w, served("ep", "agent", []string{"1"}, nil))
			srv.SetVersionBehavior("agent", "1", tt.behavior)
			resp, err := query(t, w, "ep", map[string]any{"thread_id": "t", "message": "delete x"})
			tt.check(t, resp, err, srv.EntityStats("ep")["agent-1"])
		})
	}
}

func TestDefaultBehaviorOption(t *testing.T) {
	srv, w := start(t, Options{DefaultBehavior: &Behavior{PlatformErrorRate: 1}})
	seed(t, srv, "agent", 1)
	create(t, w, served("ep", "agent", []string{"1"}, nil))
	_, err := query(t, w, "ep", map[string]any{"message": "x"})
	require.ErrorIs(t, err, apierr.ErrInternalError)
	srv.SetVersionBehavior("agent", "1", Behavior{})
	_, err = query(t, w, "ep", map[string]any{"message": "x"})
	require.NoError(t, err, "a version's own behaviour wins over the default")
}

// metricsByEntity parses the metrics export with the Prometheus parser and
// sums the counters per served entity.
func metricsByEntity(t *testing.T, w *databricks.WorkspaceClient, endpoint string) map[string]map[string]float64 {
	t.Helper()
	resp, err := w.ServingEndpoints.ExportMetricsByName(ctx(t), endpoint)
	require.NoError(t, err)
	defer resp.Contents.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Contents)
	require.NoError(t, err)
	out := map[string]map[string]float64{}
	for name, fam := range fams {
		for _, m := range fam.GetMetric() {
			entity := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "served_model_name" {
					entity = l.GetValue()
				}
			}
			if out[entity] == nil {
				out[entity] = map[string]float64{}
			}
			if h := m.GetHistogram(); h != nil {
				out[entity][name+"_count"] = float64(h.GetSampleCount())
				buckets := h.GetBucket()
				for i := 1; i < len(buckets); i++ {
					require.GreaterOrEqual(t, buckets[i].GetCumulativeCount(), buckets[i-1].GetCumulativeCount(), "buckets are cumulative")
				}
				continue
			}
			switch fam.GetType() {
			case dto.MetricType_GAUGE:
				out[entity][name] = m.GetGauge().GetValue()
			default:
				out[entity][name] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// TestTrafficSplitAndMetrics sends 10,000 invocations through the SDK to a
// 90/10 split and checks the shares and that the metrics export counts
// exactly what was served.
func TestTrafficSplitAndMetrics(t *testing.T) {
	clock := NewManualClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	srv, w := start(t, Options{MetricsClock: clock})
	seed(t, srv, "agent", 2)
	create(t, w, served("ep", "agent", []string{"1", "2"}, []int{90, 10}))
	srv.SetVersionBehavior("agent", "2", Behavior{ErrorRate: 0.2})

	// The first requests go through the SDK's Query, which reads the
	// entity from the served-model-name header and maps a 500 to an
	// APIError; the bulk goes over plain HTTP with the same request, so
	// the split is judged on 10,000 requests without paying the SDK's
	// cost (under the race detector) for each.
	const total, viaSDK, workers = 10000, 400, 8
	var mu sync.Mutex
	seen := map[string]map[string]int{}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	t.Cleanup(client.CloseIdleConnections)
	// Both return ok false after reporting an error: they run on the
	// workers' goroutines, where only assert may be used.
	viaHTTP := func(t *testing.T) (entity, outcome string, ok bool) {
		req, err := http.NewRequestWithContext(ctx(t), http.MethodPost, srv.URL()+"/serving-endpoints/ep/invocations",
			strings.NewReader(`{"dataframe_records":[{"message":"hi"}]}`))
		if !assert.NoError(t, err) {
			return "", "", false
		}
		req.Header.Set("Authorization", "Bearer "+srv.Token())
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if !assert.NoError(t, err) {
			return "", "", false
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		outcome = "ok"
		if resp.StatusCode != http.StatusOK {
			outcome = fmt.Sprint(resp.StatusCode)
		}
		return resp.Header.Get("served-model-name"), outcome, true
	}
	viaQuery := func(t *testing.T) (entity, outcome string, ok bool) {
		resp, err := w.ServingEndpoints.Query(ctx(t), serving.QueryEndpointInput{Name: "ep", DataframeRecords: []any{map[string]any{"message": "hi"}}})
		if err != nil {
			var ae *apierr.APIError
			if !assert.ErrorAs(t, err, &ae) {
				return "", "", false
			}
			return ae.ResponseWrapper.Response.Header.Get("served-model-name"), fmt.Sprint(ae.StatusCode), true
		}
		return resp.ServedModelName, "ok", true
	}
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]map[string]int{}
			for i := g; i < total; i += workers {
				send := viaHTTP
				if i < viaSDK {
					send = viaQuery
				}
				entity, outcome, ok := send(t)
				if !ok {
					return
				}
				if local[entity] == nil {
					local[entity] = map[string]int{}
				}
				local[entity][outcome]++
			}
			mu.Lock()
			defer mu.Unlock()
			for e, m := range local {
				if seen[e] == nil {
					seen[e] = map[string]int{}
				}
				for k, v := range m {
					seen[e][k] += v
				}
			}
		}()
	}
	wg.Wait()

	count := func(e string) int { return seen[e]["ok"] + seen[e]["400"] }
	require.Equal(t, total, count("agent-1")+count("agent-2"), "every request was answered by an entity: %v", seen)
	share := 100 * float64(count("agent-2")) / total
	assert.InDelta(t, 10, share, 1.5, "canary share %.2f%%", share)
	assert.Zero(t, seen["agent-1"]["400"])
	assert.InDelta(t, 0.2, float64(seen["agent-2"]["400"])/float64(count("agent-2")), 0.05)

	clock.Advance(time.Minute) // the minute closes: the export shows it
	m := metricsByEntity(t, w, "ep")
	for _, e := range []string{"agent-1", "agent-2"} {
		assert.Equal(t, float64(count(e)), m[e]["request_count_total"], "%s requests", e)
		assert.Equal(t, float64(seen[e]["400"]), m[e]["request_4xx_count_total"], "%s 4xx", e)
		assert.Zero(t, m[e]["request_5xx_count_total"])
		assert.Equal(t, float64(count(e)), m[e]["request_latency_ms_count"])
	}
	t.Logf("served: %v, canary share %.2f%%", seen, share)
}
