package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/agentmodel"
)

const testEndpoint = "agent-dev"

// faults are the knobs of a fakeServing, fixed before the first request.
type faults struct {
	servedModels []string      // answered in rotation via served-model-name
	latency      time.Duration // added to every invocation
	failEvery    int           // every Nth invocation fails with failStatus
	failStatus   int
	garble       bool // corrupt returned checkpoints
	dropCkpt     bool // return interrupts without a checkpoint
	mutate       func(agentmodel.Prediction) agentmodel.Prediction
	block        bool // hold invocations until the client gives up
	metricsFail  int  // HTTP status for the metrics export, 0 = serve it
	metricsLag   int  // the export shows new traffic only after this many reads
	noEntity     bool // export counters without a served-entity label
}

// fakeServing is a serving endpoint on 127.0.0.1 speaking the invocations and
// metrics-export paths. Predictions come from agentmodel, the Go stand-in
// for the served model; its faults inject what the tests need.
type fakeServing struct {
	faults

	url string

	mu          sync.Mutex
	invocations int
	resumes     int
	inflight    int
	maxInflight int
	requests    map[string]float64 // per served model, as exported
	errors4xx   map[string]float64
	errors5xx   map[string]float64
	reads       int
	lagged      string // the export as it stood before the lag ran out
	arrived     chan struct{}
}

func newFakeServing(t testing.TB, knobs faults) (*fakeServing, *databricks.WorkspaceClient) {
	t.Helper()
	f := &fakeServing{faults: knobs}
	if len(f.servedModels) == 0 {
		f.servedModels = []string{"agent-1"}
	}
	f.requests, f.errors4xx, f.errors5xx = map[string]float64{}, map[string]float64{}, map[string]float64{}
	f.arrived = make(chan struct{}, 1024)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /serving-endpoints/{name}/invocations", f.invoke)
	mux.HandleFunc("GET /api/2.0/serving-endpoints/{name}/metrics", f.metrics)
	srv := httptest.NewUnstartedServer(mux)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	f.url = srv.URL

	w, err := databricks.NewWorkspaceClient(&databricks.Config{
		Host:        srv.URL,
		Token:       "t",
		AuthType:    "pat",
		Credentials: config.PatCredentials{},
		Loaders:     []config.Loader{noLoader{}},
		// The SDK throttles to 15 req/s by default; load tests need more.
		RateLimitPerSecond: 100000,
		HTTPTimeoutSeconds: 10,
	})
	require.NoError(t, err)
	return f, w
}

// noLoader keeps the SDK from reading the developer's environment and config.
type noLoader struct{}

func (noLoader) Name() string                   { return "test" }
func (noLoader) Configure(*config.Config) error { return nil }

func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error_code": code, "message": msg})
}

func (f *fakeServing) invoke(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("name") != testEndpoint {
		writeAPIError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "endpoint "+r.PathValue("name")+" does not exist")
		return
	}
	f.mu.Lock()
	f.invocations++
	n := f.invocations
	served := f.servedModels[(n-1)%len(f.servedModels)]
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	select {
	case f.arrived <- struct{}{}:
	default:
	}

	if f.block {
		// The server notices a client hanging up only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second): // bounded even if a test forgets to cancel
			writeAPIError(w, http.StatusGatewayTimeout, "TIMEOUT", "blocked invocation released")
		}
		return
	}
	if f.latency > 0 {
		time.Sleep(f.latency)
	}
	if f.failEvery > 0 && n%f.failEvery == 0 {
		f.count(served, f.failStatus)
		writeAPIError(w, f.failStatus, "INTERNAL_ERROR", "injected failure")
		return
	}

	var body struct {
		Records []any `json:"dataframe_records"`
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil || len(body.Records) == 0 {
		f.count(served, http.StatusBadRequest)
		writeAPIError(w, http.StatusBadRequest, "BAD_REQUEST", "want dataframe_records")
		return
	}
	for _, rec := range body.Records {
		if m, ok := rec.(map[string]any); ok && m["resume"] != nil {
			f.mu.Lock()
			f.resumes++
			f.mu.Unlock()
		}
	}
	preds := agentmodel.Predict(body.Records)
	for i := range preds {
		if f.mutate != nil {
			preds[i] = f.mutate(preds[i])
		}
		if in := preds[i].Interrupt; in != nil {
			switch {
			case f.dropCkpt:
				in.Checkpoint = ""
			case f.garble:
				in.Checkpoint = "garbled" + in.Checkpoint[len(in.Checkpoint)/2:]
			}
		}
	}
	f.count(served, http.StatusOK)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("served-model-name", served)
	_ = json.NewEncoder(w).Encode(map[string]any{"predictions": preds})
}

func (f *fakeServing) count(served string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[served]++
	switch {
	case status >= 500:
		f.errors5xx[served]++
	case status >= 400:
		f.errors4xx[served]++
	}
}

func (f *fakeServing) metrics(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("name") != testEndpoint {
		writeAPIError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "endpoint "+r.PathValue("name")+" does not exist")
		return
	}
	if f.metricsFail != 0 {
		writeAPIError(w, f.metricsFail, "INTERNAL_ERROR", "metrics unavailable")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	text := f.exposition()
	switch {
	case f.reads == 1:
		f.lagged = text
	case f.reads <= 1+f.metricsLag:
		text = f.lagged // the export has not caught up yet
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = fmt.Fprint(w, text)
}

func (f *fakeServing) exposition() string {
	var b strings.Builder
	for _, fam := range []struct {
		name string
		vals map[string]float64
	}{{"request_count_total", f.requests}, {"request_4xx_count_total", f.errors4xx}, {"request_5xx_count_total", f.errors5xx}} {
		fmt.Fprintf(&b, "# TYPE %s counter\n", fam.name)
		for _, m := range f.servedModels {
			if f.noEntity {
				fmt.Fprintf(&b, "%s{replica=%q} %v\n", fam.name, m, fam.vals[m])
				continue
			}
			fmt.Fprintf(&b, "%s{served_entity_name=%q} %v\n", fam.name, m, fam.vals[m])
		}
	}
	return b.String()
}

func (f *fakeServing) stats() (invocations, resumes, maxInflight int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.invocations, f.resumes, f.maxInflight
}
