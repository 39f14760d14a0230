package contract

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// exportText is the serving metrics export of endpoint as the SDK returns it.
func (ws emulated) exportText(t *testing.T, endpoint string) []byte {
	t.Helper()
	resp, err := ws.w.ServingEndpoints.ExportMetricsByName(testCtx(t), endpoint)
	require.NoError(t, err)
	defer resp.Contents.Close()
	raw, err := io.ReadAll(resp.Contents)
	require.NoError(t, err)
	return raw
}

// exportByEntity parses the metrics export with the Prometheus parser: the
// values per served entity and family (a histogram as its _count), and
// each family's sample timestamp (epoch ms).
func (ws emulated) exportByEntity(t *testing.T, endpoint string) (map[string]map[string]float64, map[string]int64) {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(ws.exportText(t, endpoint)))
	require.NoError(t, err)
	out := map[string]map[string]float64{}
	stamps := map[string]int64{}
	for name, fam := range fams {
		for _, m := range fam.GetMetric() {
			stamps[name] = m.GetTimestampMs()
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
	return out, stamps
}

// The export's families and types are the ones Databricks' metrics export
// page configures for Datadog ("Track and export serving endpoint health
// metrics to Prometheus and Datadog", its openmetrics.d example):
// cpu_usage_percentage, mem_usage_percentage,
// provisioned_concurrent_requests_total, request_4xx_count_total,
// request_5xx_count_total and request_count_total as gauges,
// request_latency_ms as a histogram. The page's definitions count requests
// "within a minute"; DataDog/integrations-core databricks/metadata.csv
// describes each family as "during the last minute". No Databricks page
// shows labels, sample timestamps or bucket bounds:
//
//   - the per-entity label served_model_name is the one spelling a public
//     integration shows (DataDog's model serving dashboard filters by it);
//     the emulator also exports without any per-entity label
//     (MetricsUnlabelled), since the real export may have none;
//   - the epoch-ms timestamps follow public collectors of the export, not
//     a Databricks source;
//   - the latency bucket bounds are the emulator's own;
//   - CPU and memory values are synthetic, provisioned concurrency is the
//     workload size's upper bound.
//
// Some workspaces do not export request_latency_ms (OmitLatency).
func TestMetricsExportShapes(t *testing.T) {
	minute0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	documented := []string{
		"# TYPE cpu_usage_percentage gauge",
		"# TYPE mem_usage_percentage gauge",
		"# TYPE provisioned_concurrent_requests_total gauge",
		"# TYPE request_count_total gauge",
		"# TYPE request_4xx_count_total gauge",
		"# TYPE request_5xx_count_total gauge",
		"# TYPE request_latency_ms histogram",
	}
	tests := []struct {
		name    string
		opts    emulator.MetricsOptions
		want    []string
		notWant []string
	}{
		{"every documented family, per served model (default)", emulator.MetricsOptions{}, append(documented,
			`request_count_total{served_model_name="agent-1"} 3 1748779200000`,
			`provisioned_concurrent_requests_total{served_model_name="agent-1"} 4 1748779200000`,
			`request_latency_ms_bucket{served_model_name="agent-1",le="+Inf"} 3 1748779200000`,
			`request_latency_ms_count{served_model_name="agent-1"} 3 1748779200000`,
		), nil},
		{"no per-entity label", emulator.MetricsOptions{Labels: emulator.MetricsUnlabelled}, append(documented,
			"\nrequest_count_total 3 1748779200000\n",
			`request_latency_ms_bucket{le="+Inf"} 3 1748779200000`,
		), []string{"served_model_name"}},
		{"latency left out", emulator.MetricsOptions{OmitLatency: true}, []string{"# TYPE request_count_total gauge"}, []string{"request_latency_ms"}},
		{"cumulative counters", emulator.MetricsOptions{Shape: emulator.MetricsCounters}, []string{
			"# TYPE request_count_total counter",
			`request_count_total{served_model_name="agent-1"} 3` + "\n",
			`request_latency_ms_bucket{served_model_name="agent-1",le="+Inf"} 3` + "\n",
		}, []string{"# TYPE request_count_total gauge"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := emulator.NewManualClock(minute0.Add(10 * time.Second))
			ws := start(t, emulator.Options{MetricsClock: clock, Metrics: tt.opts})
			v := ws.serveOne(t, "ep", "agent")
			ws.srv.SetVersionBehavior("agent", v, emulator.Behavior{Latency: emulator.FixedLatency(30 * time.Millisecond)})
			for range 3 {
				_, err := ws.query(t, "ep", map[string]any{"message": "hi"})
				require.NoError(t, err)
			}
			clock.Advance(time.Minute)
			raw := ws.exportText(t, "ep")
			text := string(raw)
			for _, want := range tt.want {
				assert.Contains(t, text, want)
			}
			for _, not := range tt.notWant {
				assert.NotContains(t, text, not)
			}
			var sanity map[string]any
			assert.Error(t, json.Unmarshal(raw, &sanity), "the export is text, not JSON")
		})
	}
	ws := start(t, emulator.Options{})
	_, err := ws.w.ServingEndpoints.ExportMetricsByName(testCtx(t), "nope")
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)
}

// Each minute's requests are in that minute's window only: a later scrape
// shows the next minute, stamped with its start, never the sum. The page's
// definitions count requests "within a minute" and DataDog's metadata.csv
// says "during the last minute"; no public source says whether the minute
// in progress is exported: the emulator exports only complete minutes.
func TestMetricsExportMinuteWindows(t *testing.T) {
	minute0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := emulator.NewManualClock(minute0.Add(5 * time.Second))
	ws := start(t, emulator.Options{MetricsClock: clock})
	v := ws.serveOne(t, "ep", "agent")
	served := "agent-" + v
	send := func(n int) {
		for range n {
			_, err := ws.query(t, "ep", map[string]any{"message": "hi"})
			require.NoError(t, err)
		}
	}
	send(4)
	m, stamps := ws.exportByEntity(t, "ep")
	assert.Zero(t, m[served]["request_count_total"], "the minute in progress is not exported")
	assert.Equal(t, minute0.Add(-time.Minute).UnixMilli(), stamps["request_count_total"])

	clock.Advance(time.Minute)
	send(2)
	m, stamps = ws.exportByEntity(t, "ep")
	assert.Equal(t, 4.0, m[served]["request_count_total"])
	assert.Equal(t, minute0.UnixMilli(), stamps["request_count_total"])

	clock.Advance(time.Minute)
	m, stamps = ws.exportByEntity(t, "ep")
	assert.Equal(t, 2.0, m[served]["request_count_total"], "the next minute alone, not a running total")
	assert.Equal(t, minute0.Add(time.Minute).UnixMilli(), stamps["request_count_total"])
	assert.Equal(t, int64(6), ws.srv.EntityStats("ep")[served].Requests)
}
