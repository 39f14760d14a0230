package emulator

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/require"
)

const benchBody = `{"dataframe_records":[{"thread_id":"t-1","message":"delete all records for customer 42"}]}`

// benchServer starts an emulator serving a 90/10 split of zero-latency
// versions of the stand-in model.
func benchServer(b *testing.B) *Server {
	b.Helper()
	srv, w := start(b, Options{MaxRequestLog: 10_000})
	seed(b, srv, "agent", 2)
	in := served("ep", "agent", []string{"1", "2"}, []int{90, 10})
	_, err := createEndpointAndWait(ctx(b), w, serving.CreateServingEndpoint{Name: "ep", Config: &in})
	require.NoError(b, err)
	return srv
}

// latencies collects per-request durations from parallel goroutines.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, start time.Time) {
	slices.Sort(l.all)
	if len(l.all) == 0 {
		return
	}
	p := func(q float64) float64 {
		return float64(l.all[int(q*float64(len(l.all)-1))].Microseconds())
	}
	b.ReportMetric(float64(len(l.all))/time.Since(start).Seconds(), "req/s")
	b.ReportMetric(p(0.5), "p50-µs")
	b.ReportMetric(p(0.99), "p99-µs")
}

// BenchmarkInvocationsHTTP measures the emulator's capacity: parallel
// keep-alive clients on loopback, zero model latency.
func BenchmarkInvocationsHTTP(b *testing.B) {
	srv := benchServer(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	url := srv.URL() + "/serving-endpoints/ep/invocations"
	var lat latencies
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var local []time.Duration
		for pb.Next() {
			t0 := time.Now()
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(benchBody)))
			req.Header.Set("Authorization", "Bearer "+srv.Token())
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			local = append(local, time.Since(t0))
		}
		lat.add(local)
	})
	b.StopTimer()
	lat.report(b, start)
}

// BenchmarkInvocationsSDK is the same load through the SDK's Query, as the
// verify stage's load checks send it.
func BenchmarkInvocationsSDK(b *testing.B) {
	srv := benchServer(b)
	w, err := srv.WorkspaceClient()
	require.NoError(b, err)
	records := []any{map[string]any{"thread_id": "t-1", "message": "delete all records for customer 42"}}
	var lat latencies
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := ctx(b)
		var local []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if _, err := w.ServingEndpoints.Query(c, serving.QueryEndpointInput{Name: "ep", DataframeRecords: records}); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(t0))
		}
		lat.add(local)
	})
	b.StopTimer()
	lat.report(b, start)
}

// BenchmarkInvocationOverhead is the emulator's own handling time per
// invocation (routing, decoding, the stand-in model, metrics), without the
// network: the overhead it adds to every request.
func BenchmarkInvocationOverhead(b *testing.B) {
	srv := benchServer(b)
	var lat latencies
	local := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		req := httptest.NewRequest(http.MethodPost, "/serving-endpoints/ep/invocations", bytes.NewReader([]byte(benchBody)))
		req.Header.Set("Authorization", "Bearer "+srv.Token())
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
		local = append(local, time.Since(t0))
	}
	b.StopTimer()
	lat.add(local)
	lat.report(b, start)
}
