package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/traffic"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/judge"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace/forcesend"
)

const (
	testModel    = "agent-prod"
	testEndpoint = "agent-prod"
)

// world is an emulated workspace with a prod endpoint serving a stable
// version, a candidate version registered next to it, a virtual clock that
// brings client traffic, and a record of every config the endpoint was
// sent or shown.
type world struct {
	t      testing.TB
	srv    *emulator.Server
	w      *databricks.WorkspaceClient
	api    serving.ServingEndpointsInterface
	clock  *traffic.Clock
	wire   *wire
	stable Entity
	cand   Entity
	others []string // further registered versions
}

type worldOpts struct {
	emulator emulator.Options
	// rate is client requests per second of virtual time.
	rate float64
	// extra registers more versions after the candidate.
	extra int
	// stableBehavior and candBehavior make versions slow or flaky.
	stableBehavior, candBehavior *emulator.Behavior
}

func newWorld(t testing.TB, o worldOpts) *world {
	t.Helper()
	if o.emulator.DefaultBehavior == nil && o.emulator.TimeScale == 0 {
		// Model latency well above the emulator's own handling time, which
		// varies with the machine's load and would make p95 comparisons
		// of identical versions noisy. Not slept: time scale 0.
		o.emulator.DefaultBehavior = &emulator.Behavior{Latency: emulator.Latency{Median: 40 * time.Millisecond, P99: 80 * time.Millisecond}}
	}
	// The export's minutes follow the virtual clock that brings the traffic.
	mc := &lateClock{}
	if o.emulator.MetricsClock == nil {
		o.emulator.MetricsClock = mc
	}
	srv, err := emulator.Start(o.emulator)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	// A transport of its own, closed before the server: a connection the
	// transport dialed but never used would hold the server's shutdown for
	// its 5-second grace.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	wr := &wire{base: tr}
	cfg := srv.Config()
	cfg.HTTPTransport = wr
	w, err := databricks.NewWorkspaceClient(cfg)
	require.NoError(t, err)

	var versions []string
	for range 2 + o.extra {
		v, _, err := srv.SeedModelVersion(testModel)
		require.NoError(t, err)
		versions = append(versions, v)
	}
	wd := &world{t: t, srv: srv, w: w, api: w.ServingEndpoints, wire: wr, others: versions[2:]}
	// Scale to zero off, as prod serves: the SDK leaves a false out of the
	// JSON and the emulator refuses an entity without it, so every config
	// the rollout sends must force-send it (the candidate as callers build
	// it does not).
	wd.stable = Entity{Name: ServedEntityName(testModel, versions[0]), EntityName: testModel, EntityVersion: versions[0], WorkloadSize: "Small"}
	wd.cand = Entity{Name: ServedEntityName(testModel, versions[1]), EntityName: testModel, EntityVersion: versions[1], WorkloadSize: "Small"}
	if o.stableBehavior != nil {
		srv.SetVersionBehavior(testModel, versions[0], *o.stableBehavior)
	}
	if o.candBehavior != nil {
		srv.SetVersionBehavior(testModel, versions[1], *o.candBehavior)
	}

	c := testCtx(t)
	wait, err := w.ServingEndpoints.Create(c, serving.CreateServingEndpoint{
		Name:   testEndpoint,
		Tags:   []serving.EndpointTag{{Key: "release", Value: "v1.0.0"}},
		Config: &serving.EndpointCoreConfigInput{ServedEntities: []Entity{forcesend.ServedEntity(wd.stable)}},
	})
	require.NoError(t, err)
	_, err = wait.Get()
	require.NoError(t, err)
	// Client load as plain HTTP: thousands of requests per test, whose SDK
	// mapping is not what these tests are about.
	wd.clock = traffic.NewClock(traffic.NewHTTPQuerier(srv.URL(), srv.Token()), testEndpoint, time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), o.rate)
	mc.set(wd.clock)
	wd.clock.OnSleep(func(int) { wd.observe() })
	wr.reset()
	srv.ResetRequests()
	return wd
}

func testCtx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// testPlan is a fast test plan: 10% canary, read every virtual minute,
// false aborts at most 1%, at most 5 minutes, 100 candidate requests needed.
func testPlan() Plan {
	return Plan{
		Steps: []Step{SetWeight(10), Analyze(time.Minute), Promote()},
		Judge: judge.Config{Alpha: 0.01, MaxErrorRatio: 1.5, MaxMinutes: 5, MinRequests: 100},
	}
}

func (wd *world) canary(plan Plan) *Canary {
	return &Canary{
		API: wd.api, Endpoint: testEndpoint, Candidate: wd.cand, Plan: plan,
		Options: Options{Clock: wd.clock, Out: &syncBuffer{}, Backoff: time.Second},
	}
}

// serve puts the endpoint in a given state directly (a crashed rollout's
// leftovers), outside the rollout code.
func (wd *world) serve(entities []Entity, shares []int) {
	wd.t.Helper()
	in := forcesend.EndpointConfig(serving.EndpointCoreConfigInput{Name: testEndpoint, ServedEntities: entities, TrafficConfig: &serving.TrafficConfig{}})
	for i, e := range entities {
		in.TrafficConfig.Routes = append(in.TrafficConfig.Routes, serving.Route{ServedEntityName: e.Name, TrafficPercentage: shares[i]})
	}
	wait, err := wd.api.UpdateConfig(testCtx(wd.t), in)
	require.NoError(wd.t, err)
	_, err = wait.Get()
	require.NoError(wd.t, err)
}

// observe records the live traffic as the emulator holds it.
func (wd *world) observe() {
	wd.wire.mu.Lock()
	defer wd.wire.mu.Unlock()
	wd.wire.live = append(wd.wire.live, wd.srv.Traffic(testEndpoint))
}

// traffic is the endpoint's live traffic now.
func (wd *world) traffic() map[string]int { return wd.srv.Traffic(testEndpoint) }

// assertHealthyRouted checks the safety invariant over everything the
// endpoint was sent or showed: every config routes traffic to a healthy
// entity (by served entity name) and sums to 100.
func (wd *world) assertHealthyRouted(healthy ...string) {
	wd.t.Helper()
	wd.wire.mu.Lock()
	defer wd.wire.mu.Unlock()
	ok := func(traffic map[string]int) bool {
		sum, good := 0, 0
		for n, p := range traffic {
			sum += p
			for _, h := range healthy {
				if n == h {
					good += p
				}
			}
		}
		return sum == 100 && good > 0
	}
	for i, cfg := range wd.wire.sent {
		tr := map[string]int{}
		for _, r := range cfg.TrafficConfig.Routes {
			tr[r.ServedEntityName] += r.TrafficPercentage
		}
		require.Truef(wd.t, ok(tr), "config update %d routes %v: no traffic to a healthy version %v", i+1, tr, healthy)
	}
	for i, tr := range wd.wire.live {
		require.Truef(wd.t, ok(tr), "live config %d routes %v: no traffic to a healthy version %v", i+1, tr, healthy)
	}
	// Everything the emulator was asked to change went through the wire.
	require.Len(wd.t, wd.wire.sent, len(wd.srv.RequestsFor("serving-endpoints.update-config")))
}

// updates are the configs sent over the wire since the world was built.
func (wd *world) updates() []serving.EndpointCoreConfigInput {
	wd.wire.mu.Lock()
	defer wd.wire.mu.Unlock()
	return append([]serving.EndpointCoreConfigInput(nil), wd.wire.sent...)
}

// wire is the SDK client's transport: it keeps every endpoint config sent
// and every endpoint state read, as the invariant checks need them.
type wire struct {
	base http.RoundTripper
	mu   sync.Mutex
	sent []serving.EndpointCoreConfigInput
	live []map[string]int
	// seen, when set, hears every live traffic split read.
	seen func(map[string]int)
}

func (wr *wire) reset() {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	wr.sent, wr.live = nil, nil
}

func (wr *wire) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Method == http.MethodPut && strings.HasSuffix(req.URL.Path, "/config") && req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := wr.base.RoundTrip(req)
	if body != nil {
		var in serving.EndpointCoreConfigInput
		if json.Unmarshal(body, &in) == nil {
			wr.mu.Lock()
			wr.sent = append(wr.sent, in)
			wr.mu.Unlock()
		}
	}
	if err == nil && req.Method == http.MethodGet && strings.HasPrefix(req.URL.Path, "/api/2.0/serving-endpoints/") &&
		strings.Count(req.URL.Path, "/") == 4 && resp.StatusCode == http.StatusOK {
		data, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(data))
		var ep serving.ServingEndpointDetailed
		if rerr == nil && json.Unmarshal(data, &ep) == nil && ep.Config != nil {
			tr := Traffic(&ep)
			wr.mu.Lock()
			wr.live = append(wr.live, tr)
			seen := wr.seen
			wr.mu.Unlock()
			if seen != nil {
				seen(tr)
			}
		}
	}
	return resp, err
}

// syncBuffer is an io.Writer safe for the rollout's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stages collects the progress a rollout reports.
type stages struct {
	mu   sync.Mutex
	all  []Progress
	hook func(Progress)
}

func (s *stages) report(p Progress) {
	s.mu.Lock()
	s.all = append(s.all, p)
	hook := s.hook
	s.mu.Unlock()
	if hook != nil {
		hook(p)
	}
}

func (s *stages) names() []Stage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Stage, len(s.all))
	for i, p := range s.all {
		out[i] = p.Stage
	}
	return out
}

func (s *stages) last() Checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all[len(s.all)-1].Checkpoint
}

// lateClock is a clock bound after the emulator starts (the traffic clock
// needs the emulator's client); before that it reads the zero time.
type lateClock struct {
	mu sync.Mutex
	c  interface{ Now() time.Time }
}

func (l *lateClock) set(c interface{ Now() time.Time }) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.c = c
}

func (l *lateClock) Now() time.Time {
	l.mu.Lock()
	c := l.c
	l.mu.Unlock()
	if c == nil {
		return time.Time{}
	}
	return c.Now()
}
