package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/databricks/databricks-sdk-go"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/jobs"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/registry"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/serving"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/sqlwarehouse"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/tracking"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/workspacefiles"
)

// Server is a running emulator.
type Server struct {
	opts     Options
	dur      Durations
	scale    float64
	clock    Clock
	realTime bool
	user     string
	token    string
	tokens   map[string]bool
	url      string

	listener net.Listener
	httpSrv  *http.Server
	mux      *http.ServeMux

	// fresh holds connections accepted but not yet carrying a request.
	// Shutdown treats them as busy for 5 s; Close drops them at once.
	connMu sync.Mutex
	fresh  map[net.Conn]bool

	// The workspace's services, each with its own lock, taken in the order
	// doc.go gives; the server holds none of them while it calls another.
	uc       *unitycatalog.Metastore
	files    *workspacefiles.Tree
	runs     *tracking.Store
	registry *registry.Store
	jobs     *jobs.Store
	serving  *serving.Store
	sql      *sqlwarehouse.Store
	// detachSystem takes this workspace's rows out of the metastore's
	// system tables.
	detachSystem func()
	// ids is the id sequence the services share; random is the seeded
	// generator run, model and endpoint ids and serving draws come from.
	ids    *core.Sequence
	random *core.Random

	logMu  sync.Mutex
	log    []RequestRecord
	maxLog int

	faultMu  sync.Mutex // guards faults and faultRng
	faults   []*FaultRule
	faultRng *mrand.Rand

	saveMu  sync.Mutex
	saveErr error
	dirty   atomic.Bool
	done    chan struct{}
	wg      sync.WaitGroup
	closed  atomic.Bool
}

type route struct {
	op       string
	mutating bool
	unknown  bool // the fallback for paths no route matches
}

// Start starts an emulator on a loopback address and returns once it accepts
// connections.
func Start(opts Options) (*Server, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("emulator address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("emulator address %q: the emulator binds to loopback only (use 127.0.0.1)", addr)
	}
	switch opts.Metrics.Shape {
	case "", MetricsGauges, MetricsCounters:
	default:
		return nil, fmt.Errorf("emulator metrics shape %q: want %q or %q", opts.Metrics.Shape, MetricsGauges, MetricsCounters)
	}
	if opts.TimeScale < 0 {
		return nil, fmt.Errorf("emulator time scale %v: must be 0 or more", opts.TimeScale)
	}

	s := &Server{
		opts:   opts,
		dur:    opts.Durations.withDefaults(),
		scale:  opts.TimeScale,
		clock:  opts.Clock,
		user:   opts.UserName,
		token:  opts.Token,
		tokens: map[string]bool{},
		maxLog: opts.MaxRequestLog,
		done:   make(chan struct{}),
	}
	if s.clock == nil {
		s.clock, s.realTime = core.WallClock{}, true
	}
	if s.user == "" {
		s.user = "emulator@localhost"
	}
	if s.token == "" {
		s.token = "emu-" + randomHex(16)
	}
	s.tokens[s.token] = true
	for _, t := range opts.ExtraTokens {
		s.tokens[t] = true
	}
	if s.maxLog <= 0 {
		s.maxLog = 50_000
	}
	s.uc = opts.Metastore
	if s.uc == nil {
		s.uc = unitycatalog.New(unitycatalog.Options{Clock: s.clock})
	}
	seed := opts.Seed
	if seed == 0 {
		seed = 0x5eed
	}
	// Seeded on purpose: routing and fault draws must be reproducible in
	// tests; nothing here is a secret.
	s.random = core.NewRandom(seed)
	s.faultRng = mrand.New(mrand.NewPCG(seed+1, seed)) // #nosec G404 -- reproducible simulation, not security

	saved := newStateFile()
	if opts.StateFile != "" {
		if saved, err = load(opts.StateFile); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator listen on %s: %w", addr, err)
	}
	s.listener = ln
	s.url = "http://" + ln.Addr().String()
	if err := s.startServices(saved); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("emulator: %w", err)
	}
	s.mountRoutes()

	s.fresh = map[net.Conn]bool{}
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ConnState: s.trackConn}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.httpSrv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	if opts.StateFile != "" {
		if err := s.save(); err != nil {
			_ = s.Close()
			return nil, err
		}
		s.wg.Add(1)
		go s.flushLoop()
	}
	return s, nil
}

// startServices builds the workspace's services from what the state file
// held and ties them together: training logs to tracking and registers,
// and serving resolves versions, through modelRegistries.
func (s *Server) startServices(saved stateFile) error {
	s.ids = saved.NextID
	s.uc.RestoreTables(saved.Tables)
	s.files = workspacefiles.New(workspacefiles.Options{User: s.user, Clock: s.clock, IDs: s.ids, Objects: saved.Files})
	s.runs = tracking.New(tracking.Options{
		User: s.user, Clock: s.clock, IDs: s.ids, Random: s.random,
		Experiments: saved.Experiments, Runs: saved.MLflowRuns,
	})
	s.registry = registry.New(registry.Options{
		Enabled: s.opts.LegacyRegistry, User: s.user, Clock: s.clock, Scale: s.scale,
		Registration: s.dur.ModelRegistration, Random: s.random, Runs: s.runs, State: saved.registryState,
	})
	models := modelRegistries{uc: s.uc, workspace: s.registry}
	s.jobs = jobs.New(jobs.Options{
		User: s.user, Host: s.url, WorkspaceID: s.WorkspaceID(), Clock: s.clock, Scale: s.scale,
		Pending: s.dur.RunPending, RunFor: s.dur.RunDuration, IDs: s.ids,
		Tracking: s.runs, Models: models, Promoter: s.uc, State: saved.jobsState,
	})
	s.serving = serving.New(serving.Options{
		User: s.user, WorkspaceID: s.WorkspaceID(),
		Clock: s.opts.Clock, // nil: the wall clock, on which invocations sleep their latency
		Scale: s.scale, Update: s.dur.EndpointUpdate, TrafficUpdate: s.dur.TrafficUpdate, Random: s.random,
		Versions: models, Tables: s.uc, DefaultBehavior: s.opts.DefaultBehavior,
		Metrics: s.opts.Metrics, MetricsClock: s.opts.MetricsClock, RoutesByModelName: s.opts.RoutesByModelName,
		Counted: func() { s.dirty.Store(true) }, State: saved.servingState,
	})
	warehouseID := s.opts.WarehouseID
	if warehouseID == "" {
		warehouseID = DefaultWarehouseID
	}
	var err error
	if s.sql, err = sqlwarehouse.New(sqlwarehouse.Options{ID: warehouseID, Creator: s.user, Host: s.url, Tables: s.uc}); err != nil {
		return err
	}
	s.detachSystem, err = s.uc.AttachSystemTable(serving.ServedEntitiesTable, serving.ServedEntitiesColumns, s.servedEntityRows)
	return err
}

// mountRoutes serves the identity routes and every service's behind the
// gateway, with a 404 for the rest.
func (s *Server) mountRoutes() {
	s.mux = http.NewServeMux()
	s.registerIdentity()
	s.mount(s.files.Routes())
	s.mountSettled(s.jobs.Routes())
	s.mountSettled(s.runs.Routes())
	s.mountSettled(s.registry.Routes())
	s.mount(s.uc.Routes(s.user)) // as this workspace's principal
	s.mountSettled(s.serving.Routes())
	s.mount(s.sql.Routes())
	s.registerFallback()
}

// URL is the workspace host, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return s.url }

// Token is the personal access token the server accepts.
func (s *Server) Token() string { return s.token }

// UserName is the identity behind the token.
func (s *Server) UserName() string { return s.user }

// Metastore is the Unity Catalog metastore the workspace is attached to.
func (s *Server) Metastore() *unitycatalog.Metastore { return s.uc }

// WarehouseID is the id of the workspace's SQL warehouse
// (Options.WarehouseID).
func (s *Server) WarehouseID() string { return s.sql.ID() }

// WorkspaceFile returns the content of a workspace file or notebook.
func (s *Server) WorkspaceFile(p string) ([]byte, bool) { return s.files.File(p) }

// WorkspaceID is the workspace's numeric id (Options.WorkspaceID).
func (s *Server) WorkspaceID() int64 {
	if s.opts.WorkspaceID != 0 {
		return s.opts.WorkspaceID
	}
	return DefaultWorkspaceID
}

// Config returns a fresh SDK config for this server (core.ClientConfig:
// PAT auth, nothing read from the environment, no client-side rate limit).
func (s *Server) Config() *databricks.Config { return core.ClientConfig(s.url, s.token) }

// WorkspaceClient returns an SDK client for this server (see Config).
func (s *Server) WorkspaceClient() (*databricks.WorkspaceClient, error) {
	w, err := databricks.NewWorkspaceClient(s.Config())
	if err != nil {
		return nil, fmt.Errorf("emulator workspace client: %w", err)
	}
	return w, nil
}

// Close stops the server and, with a state file, writes the final state.
func (s *Server) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.done)
	s.dropFreshConns()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.httpSrv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.httpSrv.Close()
	}
	s.wg.Wait()
	s.detachSystem()
	if s.opts.StateFile != "" {
		if serr := s.save(); serr != nil && err == nil {
			err = serr
		}
	}
	return err
}

func (s *Server) trackConn(c net.Conn, state http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if state == http.StateNew {
		s.fresh[c] = true
	} else {
		delete(s.fresh, c)
	}
}

// dropFreshConns closes connections a client opened but never used (a
// transport's spare), which would otherwise hold Shutdown for 5 s.
func (s *Server) dropFreshConns() {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for c := range s.fresh {
		_ = c.Close()
		delete(s.fresh, c)
	}
}

// SaveError reports the last failure to write the state file, if any.
func (s *Server) SaveError() error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	return s.saveErr
}

// save writes the state file now.
func (s *Server) save() error {
	if s.opts.StateFile == "" {
		return nil
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	raw, err := s.encodeState()
	s.dirty.Store(false)
	if err == nil {
		err = write(s.opts.StateFile, raw)
	}
	s.saveErr = err
	return err
}

// changed records a change made outside a mutating request (scripting).
func (s *Server) changed() {
	if s.opts.StateFile != "" {
		_ = s.save()
	}
}

// flushLoop writes invocation metrics, which change too often to write on
// every request.
func (s *Server) flushLoop() {
	defer s.wg.Done()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if s.dirty.Load() {
				_ = s.save()
			}
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("emulator: no randomness: %v", err))
	}
	return hex.EncodeToString(b)
}

// mount serves a service package's routes behind the gateway. Each
// service takes its own lock.
func (s *Server) mount(routes []core.Route) {
	for _, rt := range routes {
		s.handle(rt.Pattern, rt.Op, rt.Mutating, rt.ServeHTTP)
	}
}

// mountSettled mounts a service whose answers follow from the workspace's
// state machines: they move to now first (settle), so a read at time
// scale 0 finds what a finished training run logged and registered.
// Routes that answer by themselves (Serve: invocations, the metrics
// export, a disabled registry) settle what they need on their own.
func (s *Server) mountSettled(routes []core.Route) {
	for _, rt := range routes {
		if handle := rt.Handle; handle != nil && rt.Serve == nil {
			rt.Handle = func(r *http.Request) (any, *core.Error) {
				s.settle()
				return handle(r)
			}
		}
		s.handle(rt.Pattern, rt.Op, rt.Mutating, rt.ServeHTTP)
	}
}

// settle moves the workspace's state machines to now, in the order their
// effects flow: job runs (whose tasks log, register and promote models),
// then registry versions, then endpoint updates. Each service takes its
// own lock in turn.
func (s *Server) settle() {
	s.jobs.Advance()
	s.registry.Advance()
	s.serving.Advance()
}

// handle registers a route. Patterns use net/http's syntax
// ("GET /api/2.0/serving-endpoints/{name}"); each handler is wrapped in the
// gateway (faults, authentication, the request log), so the mux matches a
// request once.
func (s *Server) handle(pattern, op string, mutating bool, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.gateway(route{op: op, mutating: mutating}, h))
}

// registerFallback answers requests no route matches, after the same gateway.
func (s *Server) registerFallback() {
	s.mux.Handle("/", s.gateway(route{unknown: true}, func(w http.ResponseWriter, r *http.Request) {
		core.WriteError(w, core.NewError(http.StatusNotFound, core.CodeNotFound, "No API found for '%s %s'", r.Method, r.URL.Path))
	}))
}

// statusRecorder calls first with the status before the first byte of a
// response is written.
type statusRecorder struct {
	http.ResponseWriter
	first func(status int)
	wrote bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.wrote = true
		r.first(code)
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// TimeScaleHeader tells clients that the emulator's service time runs
// faster than the wall clock: real time per unit of service time, as
// Options.TimeScale. Only the emulator sends it (no Databricks service
// does); the deploy reads it so that its canary waits out the export's
// minutes in the emulator's time.
const TimeScaleHeader = "X-Emulator-Time-Scale"

// ServeHTTP serves the emulator's routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.realTime && s.scale > 0 && s.opts.MetricsClock == nil {
		w.Header().Set(TimeScaleHeader, strconv.FormatFloat(s.scale, 'g', -1, 64))
	}
	s.mux.ServeHTTP(w, r)
}

// gateway applies faults, authentication and the request log around a route.
// The log entry is written, and a change saved to the state file, before the
// first byte of the answer, so a client that has its answer finds both.
func (s *Server) gateway(rt route, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		mutating := rt.mutating
		if rt.unknown {
			mutating = r.Method != http.MethodGet && r.Method != http.MethodHead
		}
		rec := RequestRecord{
			Time: start, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Op: rt.op, Mutating: mutating,
		}
		logged := false
		finish := func(status int) {
			if logged {
				return
			}
			logged = true
			rec.Status, rec.Duration = status, time.Since(start)
			if rt.mutating && status > 0 && status < 400 {
				if err := s.save(); err != nil {
					rec.Fault = "state file: " + err.Error()
				}
			}
			s.record(rec)
		}
		defer finish(0) // a handler that answered nothing

		if f, ok := s.nextFault(r.Method, r.URL.Path); ok {
			rec.Fault = f.String()
			if s.applyFault(w, r, f, finish) {
				return
			}
		}
		if aerr := s.authenticate(r); aerr != nil {
			finish(aerr.Status)
			core.WriteError(w, aerr)
			return
		}
		h(&statusRecorder{ResponseWriter: w, first: finish}, r)
	})
}

// applyFault carries out a fault and reports whether it answered the
// request; a pure delay lets the request proceed.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault, finish func(int)) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			finish(499) // the client gave up
			return true
		}
	}
	if f.Drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				finish(-1)
				if tcp, ok := conn.(*net.TCPConn); ok {
					_ = tcp.SetLinger(0) // close with a reset, as a failing proxy does
				}
				_ = conn.Close()
				return true
			}
		}
		f.Status = http.StatusBadGateway
	}
	if f.Status == 0 {
		return false
	}
	finish(f.Status)
	if f.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	core.WriteError(w, statusError(f.Status, "injected fault: "+http.StatusText(f.Status)))
	return true
}

// authenticate checks the bearer token: none is 401, a wrong one 403, with
// the Databricks error body either way.
func (s *Server) authenticate(r *http.Request) *core.Error {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if h == "" || !ok {
		return core.NewError(http.StatusUnauthorized, core.CodeUnauthenticated, "Credential was not sent or was of an unsupported type for this API.")
	}
	if !s.tokens[strings.TrimSpace(token)] {
		return core.PermissionDenied("Invalid access token.")
	}
	return nil
}
