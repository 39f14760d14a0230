package verify

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/require"
)

// instantQuerier answers at once without I/O: what is left is the load
// generator's own cost per request.
type instantQuerier struct {
	resp *serving.QueryEndpointResponse
}

func (q instantQuerier) Query(context.Context, serving.QueryEndpointInput) (*serving.QueryEndpointResponse, error) {
	return q.resp, nil
}

func benchLoad(b *testing.B, q Querier, concurrency int) {
	cfg := LoadConfig{
		Endpoint:    testEndpoint,
		Requests:    FirstRequests(loadRepoCases(b)),
		Concurrency: concurrency,
		Duration:    time.Hour, // b.N requests end every run
		MaxRequests: b.N,
		Thresholds:  Thresholds{MaxErrorRate: 0},
	}
	b.ResetTimer()
	res, err := RunLoad(context.Background(), q, cfg)
	b.StopTimer()
	require.NoError(b, err)
	require.Equal(b, b.N, res.Succeeded)
	b.ReportMetric(res.RPS, "req/s")
}

// BenchmarkLoadGenerator measures the requests per second the generator
// sustains: in process (its own overhead) and through the real SDK client
// against a local server that answers a fixed prediction at once.
func BenchmarkLoadGenerator(b *testing.B) {
	b.Run("in-process", func(b *testing.B) {
		q := instantQuerier{resp: &serving.QueryEndpointResponse{Predictions: []any{map[string]any{"status": "completed"}}, ServedModelName: "agent-1"}}
		for _, c := range []int{1, 4} {
			b.Run(fmt.Sprintf("concurrency-%d", c), func(b *testing.B) { benchLoad(b, q, c) })
		}
	})

	body := []byte(`{"predictions":[{"thread_id":"t","status":"completed","tool":"search_knowledge_base","tool_args":{"query":"q"},"risk":"low","interrupt":null,"result":"search_knowledge_base: 3 documents found"}]}`)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /serving-endpoints/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("served-model-name", "agent-1")
		_, _ = w.Write(body)
	})
	srv := httptest.NewUnstartedServer(mux)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	srv.Listener = l
	srv.Start()
	defer srv.Close()

	client := func(b *testing.B, concurrency int, tuned bool) *databricks.WorkspaceClient {
		cfg := &databricks.Config{
			Host: srv.URL, Token: "t", AuthType: "pat",
			Credentials: config.PatCredentials{}, Loaders: []config.Loader{noLoader{}},
			// Untuned still lifts the 15 req/s throttle, or it is all we measure.
			RateLimitPerSecond: 1_000_000,
		}
		if tuned {
			TuneForLoad(cfg, concurrency)
		}
		w, err := databricks.NewWorkspaceClient(cfg)
		require.NoError(b, err)
		return w
	}
	for _, c := range []int{1, 4, 16} {
		// The SDK's default transport keeps GOMAXPROCS+1 idle connections per
		// host, so more workers than that reconnect on most requests.
		b.Run(fmt.Sprintf("sdk-http/default-transport/concurrency-%d", c), func(b *testing.B) {
			benchLoad(b, client(b, c, false).ServingEndpoints, c)
		})
		b.Run(fmt.Sprintf("sdk-http/tuned/concurrency-%d", c), func(b *testing.B) {
			benchLoad(b, client(b, c, true).ServingEndpoints, c)
		})
	}
}
