package verify

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/servingmetrics"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 30, 0, time.UTC)

// windows reads two scrapes, before and after, into the windows after.
func windows(t *testing.T, before, after string, afterAt time.Time) ([]servingmetrics.Window, []time.Time) {
	t.Helper()
	var s servingmetrics.Series
	for i, text := range []string{before, after} {
		at := t0
		if i == 1 {
			at = afterAt
		}
		r, err := servingmetrics.Parse(strings.NewReader(text), at)
		require.NoError(t, err)
		s.Add(r, at)
		if i == 0 {
			s.Next()
		}
	}
	return s.Next(), s.Gaps()
}

func TestCheckMetrics(t *testing.T) {
	const before = `
request_count_total{served_entity_name="a"} 100
request_5xx_count_total{served_entity_name="a"} 2
`
	tests := []struct {
		name     string
		after    string
		sent     int
		pass     bool
		contains []string
	}{
		{
			name:  "traffic counted, no new 5xx",
			after: "request_count_total{served_entity_name=\"a\"} 110\nrequest_5xx_count_total{served_entity_name=\"a\"} 2\n",
			sent:  10, pass: true,
		},
		{
			name:  "traffic split over two entities still adds up",
			after: "request_count_total{served_entity_name=\"a\"} 104\nrequest_count_total{served_entity_name=\"b\"} 6\n",
			sent:  10, pass: true,
		},
		{
			name:     "fewer requests than sent",
			after:    "request_count_total{served_entity_name=\"a\"} 103\n",
			sent:     10,
			contains: []string{"counted 3 requests, fewer than the 10 sent"},
		},
		{
			name:     "new 5xx names the entity",
			after:    "request_count_total{served_entity_name=\"a\"} 110\nrequest_5xx_count_total{served_entity_name=\"a\"} 2\nrequest_5xx_count_total{served_entity_name=\"b\"} 3\n",
			sent:     10,
			contains: []string{"shows 3 new 5xx responses (b: 3)"},
		},

		{
			name:     "a reset counter is called out",
			after:    "request_count_total{served_entity_name=\"a\"} 5\n",
			sent:     10,
			contains: []string{"a counter was reset during the run"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, gaps := windows(t, before, tt.after, t0.Add(time.Minute))
			res := CheckMetrics(ws, gaps, time.Time{}, tt.sent)
			assert.Equal(t, tt.pass, res.Passed(), "%+v", res.Checks)
			var msgs []string
			for _, c := range res.Checks {
				msgs = append(msgs, c.Message)
			}
			for _, want := range tt.contains {
				assert.Contains(t, strings.Join(msgs, " | "), want)
			}
		})
	}
}

// The service's export: gauges of the last closed minute, stamped.
func TestCheckMetricsPerMinute(t *testing.T) {
	gauge := func(minute time.Time, req, e5 int) string {
		ts := strconv.FormatInt(minute.UnixMilli(), 10)
		return "# TYPE request_count_total gauge\nrequest_count_total{served_entity_name=\"a\"} " + strconv.Itoa(req) + " " + ts +
			"\n# TYPE request_5xx_count_total gauge\nrequest_5xx_count_total{served_entity_name=\"a\"} " + strconv.Itoa(e5) + " " + ts + "\n"
	}
	m := t0.Truncate(time.Minute)
	open := m // the traffic ran in minute m, still open when it ended
	tests := []struct {
		name    string
		after   string
		outcome Outcome
		msg     string
	}{
		{"the run's minute closed and counted", gauge(m, 10, 0), Pass, ""},
		{"the run's minute not closed yet", gauge(m.Add(-time.Minute), 0, 0), Skip, "shows a minute once it has closed"},
		{"closed with fewer requests than sent", gauge(m, 4, 0), Fail, "counted 4 requests, fewer than the 10 sent"},
		{"a minute never read is a gap", gauge(m.Add(time.Minute), 10, 0), Skip, "1 minutes of the per-minute export were never read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, gaps := windows(t, gauge(m.Add(-time.Minute), 50, 0), tt.after, t0.Add(2*time.Minute))
			if tt.name == "a minute never read is a gap" {
				ws[0].Entities["a"] = servingmetrics.Values{Requests: 3}
			}
			res := CheckMetrics(ws, gaps, open, 10)
			assert.Equal(t, tt.outcome, res.Checks[0].Outcome, res.Checks[0].Message)
			assert.Contains(t, res.Checks[0].Message, tt.msg)
		})
	}
}

func TestVerifyMetricsAgainstServer(t *testing.T) {
	tests := []struct {
		name      string
		server    faults
		settle    time.Duration
		pass      bool
		reads     int
		errSubstr string
		checkMsg  string
	}{
		{name: "export shows the traffic", pass: true, reads: 1},
		{name: "lagging export is re-read until it catches up", server: faults{metricsLag: 2}, settle: time.Minute, pass: true, reads: 3},
		{name: "lagging export without settle time fails", server: faults{metricsLag: 2}, reads: 1, checkMsg: "fewer than the 9 sent"},
		{name: "5xx during the run fails", server: faults{failEvery: 3, failStatus: 500}, reads: 1, checkMsg: "new 5xx"},
		{name: "export without entity labels fails and says why", server: faults{noEntity: true}, reads: 1, checkMsg: "series named no served entity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, w := newFakeServing(t, tt.server)
			ctx := context.Background()
			before, err := servingmetrics.Scrape(ctx, w.ServingEndpoints, testEndpoint, time.Now())
			require.NoError(t, err)
			suite := RunSuite(ctx, w.ServingEndpoints, SuiteConfig{Endpoint: testEndpoint, Cases: loadRepoCases(t)[:6]})
			res := VerifyMetrics(ctx, w.ServingEndpoints, MetricsConfig{Endpoint: testEndpoint, Settle: tt.settle, Poll: time.Millisecond}, before, time.Now(), suite.Queries)
			assert.Equal(t, tt.pass, res.Passed(), "%+v %s", res.Checks, res.Err)
			assert.Equal(t, tt.reads, res.Reads)
			if tt.checkMsg != "" {
				var msgs []string
				for _, c := range res.Checks {
					msgs = append(msgs, c.Message)
				}
				assert.Contains(t, strings.Join(msgs, " | "), tt.checkMsg)
			}
		})
	}
}

func TestScrapeErrors(t *testing.T) {
	_, w := newFakeServing(t, faults{metricsFail: 500})
	_, err := servingmetrics.Scrape(context.Background(), w.ServingEndpoints, testEndpoint, time.Now())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read metrics export of agent-dev: HTTP 500 (INTERNAL_ERROR)")

	_, w = newFakeServing(t, faults{})
	_, err = servingmetrics.Scrape(context.Background(), w.ServingEndpoints, "missing", time.Now())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 404 (RESOURCE_DOES_NOT_EXIST)")
}

// cancelAfterRead cancels the run once the export has been read, so the
// cancellation lands while VerifyMetrics waits to re-read.
type cancelAfterRead struct {
	MetricsExporter
	cancel context.CancelFunc
}

func (c cancelAfterRead) ExportMetrics(ctx context.Context, req serving.ExportMetricsRequest) (*serving.ExportMetricsResponse, error) {
	defer c.cancel()
	return c.MetricsExporter.ExportMetrics(ctx, req)
}

func TestVerifyMetricsCancelledWhileSettling(t *testing.T) {
	_, w := newFakeServing(t, faults{metricsLag: 1000})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before, err := servingmetrics.Scrape(ctx, w.ServingEndpoints, testEndpoint, time.Now())
	require.NoError(t, err)
	m := cancelAfterRead{MetricsExporter: w.ServingEndpoints, cancel: cancel}
	res := VerifyMetrics(ctx, m, MetricsConfig{Endpoint: testEndpoint, Settle: time.Hour, Poll: time.Minute}, before, time.Now(), 1)
	assert.False(t, res.Passed())
	assert.Equal(t, 1, res.Reads)
	assert.Contains(t, res.Err, "waiting for the metrics export of agent-dev to show the traffic: context canceled")
}
