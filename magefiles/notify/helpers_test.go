package notify

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedTime keeps payloads stable across runs.
var fixedTime = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

func sampleEvent(kind Kind, env string) Event {
	return Event{
		Kind:         kind,
		Env:          env,
		Release:      "v1.2.0",
		ModelVersion: "7",
		Summary:      "Canary error rate 4.2% > 1% for 3 analyses; traffic back on v1.1.0.",
		Details:      []Detail{{"Endpoint", "interrupt-agent-" + env}, {"Canary weight", "10%"}},
		URL:          "https://ci.example.test/runs/42",
		Time:         fixedTime,
	}
}

// hookServer is a webhook on 127.0.0.1 that records JSON bodies and
// answers with the statuses in replies, repeating the last one.
type hookServer struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  []map[string]any
	paths   []string
	replies []reply
}

type reply struct {
	status int
	body   string
	header map[string]string
}

func startHook(t testing.TB, replies ...reply) *hookServer {
	t.Helper()
	h := &hookServer{replies: replies}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		h.mu.Lock()
		h.bodies = append(h.bodies, body)
		h.paths = append(h.paths, r.URL.Path)
		rep := reply{status: http.StatusOK, body: "ok"}
		if n := len(h.bodies); len(h.replies) > 0 {
			rep = h.replies[min(n, len(h.replies))-1]
		}
		h.mu.Unlock()
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.body)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) requests() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.bodies...)
}

// refusedAddr is a loopback address nothing listens on.
func refusedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// path walks decoded JSON: path(m, "blocks", 0, "text", "text").
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

func startHookFunc(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
