package servingmetrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// minute13 is the minute the fixtures' gauge samples are stamped with
// (1764680460000 ms).
var minute13 = time.Date(2025, 12, 2, 13, 1, 0, 0, time.UTC)

func fixture(t testing.TB, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return string(raw)
}

func parseText(t testing.TB, text string, at time.Time) Reading {
	t.Helper()
	r, err := Parse(strings.NewReader(text), at)
	require.NoError(t, err)
	return r
}

// The real export declares the request families as gauges holding the
// count of the last minute, each sample with an epoch-ms timestamp
// (Databricks' Datadog integration: type gauge; DataDog/integrations-core
// databricks metadata.csv: "during the last minute").
func TestParseRealShape(t *testing.T) {
	at := minute13.Add(90 * time.Second)
	tests := []struct {
		name    string
		fixture string
		latency bool
	}{
		{"gauges with per-minute latency histograms", "gauges_latency.prom", true},
		{"gauges without latency", "gauges_no_latency.prom", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseText(t, fixture(t, tt.fixture), at)
			assert.Equal(t, tt.latency, r.LatencyExported)
			assert.Empty(t, r.Totals, "gauges are windows, never totals")
			require.Len(t, r.Windows, 1)
			w := r.Windows[minute13]
			require.Contains(t, w, "agent-2")
			c := w["agent-2"]
			assert.Equal(t, []float64{97, 20, 1}, []float64{c.Requests, c.Errors4xx, c.Errors5xx})
			assert.Equal(t, 903.0, w["agent-1"].Requests)
			if tt.latency {
				assert.Equal(t, Requests|Errors4xx|Errors5xx|Latency, c.Has)
				assert.Equal(t, Histogram{Bounds: []float64{50, 100}, Counts: []float64{10, 40}, Total: 97, Sum: 14550}, c.Latency)
			} else {
				assert.Equal(t, Requests|Errors4xx|Errors5xx, c.Has)
				assert.True(t, c.Latency.Empty())
			}
		})
	}
}

func TestParseCounterShape(t *testing.T) {
	r := parseText(t, fixture(t, "counters.prom"), minute13)
	assert.Empty(t, r.Windows, "counters are totals, never windows")
	assert.True(t, r.LatencyExported)
	assert.Equal(t, 5000.0, r.Totals["agent-1"].Requests)
	assert.Equal(t, 4.0, r.Totals["agent-2"].Errors4xx)
	assert.Equal(t, 400.0, r.Totals["agent-2"].Latency.Total)
}

func TestParseByDeclaredType(t *testing.T) {
	at := time.Date(2025, 12, 2, 13, 5, 30, 0, time.UTC)
	tests := []struct {
		name        string
		text        string
		wantWindow  time.Time // zero: a total
		wantRequest float64
	}{
		{"gauge without a timestamp is the scrape's minute", "# TYPE request_count_total gauge\nrequest_count_total{served_entity_name=\"a\"} 7\n", at.Truncate(time.Minute), 7},
		{"gauge stamped mid-minute keys its minute", "# TYPE request_count_total gauge\nrequest_count_total{served_entity_name=\"a\"} 7 1764680489999\n", minute13, 7},
		{"untyped with a timestamp is a window", "request_count_total{served_entity_name=\"a\"} 7 1764680460000\n", minute13, 7},
		{"untyped without a timestamp is a total", "request_count_total{served_entity_name=\"a\"} 7\n", time.Time{}, 7},
		{"counter with a timestamp is still a total", "# TYPE request_count_total counter\nrequest_count_total{served_entity_name=\"a\"} 7 1764680460000\n", time.Time{}, 7},
		{"entity from served_model_name", "# TYPE request_count_total counter\nrequest_count_total{served_model_name=\"a\"} 7\n", time.Time{}, 7},
		{"series differing in other labels are summed", "# TYPE request_count_total counter\nrequest_count_total{served_entity_name=\"a\",replica=\"0\"} 3\nrequest_count_total{served_entity_name=\"a\",replica=\"1\"} 4\n", time.Time{}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseText(t, tt.text, at)
			if tt.wantWindow.IsZero() {
				assert.Empty(t, r.Windows)
				assert.Equal(t, tt.wantRequest, r.Totals["a"].Requests)
				return
			}
			assert.Empty(t, r.Totals)
			assert.Equal(t, tt.wantRequest, r.Windows[tt.wantWindow]["a"].Requests)
		})
	}
}

func TestParseUnattributed(t *testing.T) {
	r := parseText(t, "# TYPE request_count_total gauge\nrequest_count_total{route=\"x\"} 7 1764680460000\nrequest_count_total{served_entity_name=\"a\"} 1 1764680460000\n", minute13)
	assert.Equal(t, 1, r.Unattributed)
	assert.Equal(t, 1.0, r.Windows[minute13]["a"].Requests)
}

func TestParseRejectsMalformed(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"syntax", "request_count_total{served_entity_name=\"a} 3\n", "parse metrics export"},
		{"negative", "# TYPE request_count_total gauge\nrequest_count_total{served_entity_name=\"a\"} -1\n", "negative count"},
		{"NaN", "# TYPE request_5xx_count_total gauge\nrequest_5xx_count_total{served_entity_name=\"a\"} NaN\n", "not a finite count"},
		{"duplicate series in one minute", "# TYPE request_count_total gauge\nrequest_count_total{served_entity_name=\"a\"} 1 1764680460000\nrequest_count_total{served_entity_name=\"a\"} 2 1764680470000\n", "duplicate series"},
		{"a summary where a count belongs", "# TYPE request_count_total summary\nrequest_count_total{served_entity_name=\"a\",quantile=\"0.5\"} 1\n", "want gauge or counter"},
		{"latency not a histogram", "# TYPE request_latency_ms gauge\nrequest_latency_ms{served_entity_name=\"a\"} 1\n", "want histogram"},
		{"loose latency samples", "request_latency_ms_bucket{served_entity_name=\"a\",le=\"10\"} 1\n", "without a histogram TYPE"},
		{"decreasing buckets", "# TYPE request_latency_ms histogram\nrequest_latency_ms_bucket{served_entity_name=\"a\",le=\"10\"} 5\nrequest_latency_ms_bucket{served_entity_name=\"a\",le=\"20\"} 4\n", "fewer than"},
		{"overflowing sum", "# TYPE request_count_total counter\nrequest_count_total{served_entity_name=\"a\",r=\"0\"} 1e308\nrequest_count_total{served_entity_name=\"a\",r=\"1\"} 1e308\n", "infinity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.text), minute13)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestQuantileAndAbove(t *testing.T) {
	h := Histogram{Bounds: []float64{50, 100}, Counts: []float64{10, 40}, Total: 97}
	assert.InDelta(t, 100.0, h.Quantile(0.95), 1e-9, "rank in +Inf reports the highest bound")
	assert.InDelta(t, 25.0, Histogram{Bounds: []float64{50}, Counts: []float64{10}, Total: 10}.Quantile(0.5), 1e-9)
	assert.True(t, Histogram{}.Empty())
	assert.Equal(t, 87.0, h.Above(50))
	assert.Equal(t, 57.0, h.Above(100))
	assert.Equal(t, 97.0, h.Above(10))
	merged := h.Add(Histogram{Bounds: []float64{75}, Counts: []float64{5}, Total: 6})
	assert.Equal(t, Histogram{Bounds: []float64{50, 75, 100}, Counts: []float64{10, 15, 45}, Total: 103}, merged)
}
