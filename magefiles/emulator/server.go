package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	started  time.Time // wall time at Start, the origin of scaled service time
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

	// uc is the Unity Catalog metastore, which has its own lock; lock it
	// after s.mu, never before.
	uc *unitycatalog.Metastore
	// files is the workspace files service, which has its own lock and
	// never takes s.mu.
	files *workspacefiles.Tree
	// runs is the MLflow tracking service (experiments and runs), which has
	// its own lock; lock it after s.mu, never before. It never takes s.mu.
	runs *tracking.Store
	// sql is the workspace's SQL warehouse and its statements, which has
	// its own lock and reads tables from uc without holding it.
	sql *sqlwarehouse.Store
	// detachSystem takes this workspace's rows out of the metastore's
	// system tables.
	detachSystem func()
	// random is the seeded generator run, model and endpoint ids come
	// from; rng draws from it too (traffic routing, behaviours). Its lock
	// is taken last.
	random *core.Random

	mu  sync.Mutex // guards st and rng
	st  *state
	rng *mrand.Rand
	// predictors holds Behavior.Predict functions, which cannot be persisted.
	predictors map[string]func([]any) []any

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
		opts:       opts,
		dur:        opts.Durations.withDefaults(),
		scale:      opts.TimeScale,
		clock:      opts.Clock,
		user:       opts.UserName,
		token:      opts.Token,
		tokens:     map[string]bool{},
		maxLog:     opts.MaxRequestLog,
		predictors: map[string]func([]any) []any{},
		done:       make(chan struct{}),
	}
	if s.clock == nil {
		s.clock, s.realTime = core.WallClock{}, true
	}
	s.started = s.clock.Now()
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
	s.rng = mrand.New(s.random)                        // #nosec G404 -- reproducible simulation, not security
	s.faultRng = mrand.New(mrand.NewPCG(seed+1, seed)) // #nosec G404 -- reproducible simulation, not security

	saved := stateFile{state: newState()}
	if opts.StateFile != "" {
		if saved, err = load(opts.StateFile); err != nil {
			return nil, err
		}
	}
	s.st = saved.state
	s.adoptServedConfigs()
	s.uc.RestoreTables(saved.Tables)
	s.files = workspacefiles.New(workspacefiles.Options{User: s.user, Clock: s.clock, IDs: s.st.NextID, Objects: saved.Files})
	s.runs = tracking.New(tracking.Options{
		User: s.user, Clock: s.clock, IDs: s.st.NextID, Random: s.random,
		Experiments: saved.Experiments, Runs: saved.MLflowRuns,
	})

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator listen on %s: %w", addr, err)
	}
	s.listener = ln
	s.url = "http://" + ln.Addr().String()
	warehouseID := opts.WarehouseID
	if warehouseID == "" {
		warehouseID = DefaultWarehouseID
	}
	if s.sql, err = sqlwarehouse.New(sqlwarehouse.Options{ID: warehouseID, Creator: s.user, Host: s.url, Tables: s.uc}); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("emulator: %w", err)
	}
	if s.detachSystem, err = s.uc.AttachSystemTable(ServedEntitiesTable, ServedEntitiesColumns, s.servedEntityRows); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("emulator: %w", err)
	}

	s.mux = http.NewServeMux()
	s.registerIdentity()
	s.mount(s.files.Routes())
	s.registerJobs()
	s.mountSettled(s.runs.Routes())
	s.registerRegistry()
	s.mount(s.uc.Routes(s.user)) // as this workspace's principal
	s.registerServing()
	s.mount(s.sql.Routes())
	s.registerFallback()

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
	files := s.files.Objects()
	experiments, runs := s.runs.Snapshot()
	tables := s.uc.TablesOwnedBy(s.user)
	s.mu.Lock()
	raw, err := json.MarshalIndent(stateFile{state: s.st, Files: files, Experiments: experiments, MLflowRuns: runs, Tables: tables}, "", " ")
	s.mu.Unlock()
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

// now is the emulator's clock.
func (s *Server) now() time.Time { return s.clock.Now() }

// after is the real time at which a service-time duration d from now ends.
func (s *Server) after(d time.Duration) time.Time {
	return s.now().Add(time.Duration(float64(d) * s.scale))
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("emulator: no randomness: %v", err))
	}
	return hex.EncodeToString(b)
}

// newUUID returns a 32-hex-digit id from the seeded generator (registered
// model and endpoint ids; package tracking draws MLflow run ids from it
// too), so seeded runs are reproducible.
func (s *Server) newUUID() string { return s.random.UUID() }

// mount serves a service package's routes behind the gateway. The service
// takes its own lock; s.mu is not held.
func (s *Server) mount(routes []core.Route) {
	for _, rt := range routes {
		s.handle(rt.Pattern, rt.Op, rt.Mutating, rt.ServeHTTP)
	}
}

// mountSettled mounts a service whose answers follow from the state
// machines here (the MLflow runs a training job logs): they advance to now
// first, as handleJSON's routes do, so a read at time scale 0 finds what a
// finished training run logged. s.mu is released before the service takes
// its own lock.
func (s *Server) mountSettled(routes []core.Route) {
	for _, rt := range routes {
		handle := rt.Handle
		rt.Handle = func(r *http.Request) (any, *core.Error) {
			s.settle()
			return handle(r)
		}
		s.handle(rt.Pattern, rt.Op, rt.Mutating, rt.ServeHTTP)
	}
}

// settle advances the state machines to now.
func (s *Server) settle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.now())
}

// handle registers a route. Patterns use net/http's syntax
// ("GET /api/2.0/serving-endpoints/{name}"); each handler is wrapped in the
// gateway (faults, authentication, the request log), so the mux matches a
// request once.
func (s *Server) handle(pattern, op string, mutating bool, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.gateway(route{op: op, mutating: mutating}, h))
}

// handleJSON registers a route whose handler returns a JSON body or an
// error. The handler runs with s.mu held and the state advanced to now, and
// its result is encoded before the lock is released, since results may
// point into the state. The body is read before locking, so a slow client
// never holds the lock.
func (s *Server) handleJSON(pattern, op string, mutating bool, fn func(r *http.Request) (any, *apiError)) {
	s.handle(pattern, op, mutating, s.handleFunc(fn))
}

// handleFunc is the handler handleJSON registers, for routes that add to it.
func (s *Server) handleFunc(fn func(r *http.Request) (any, *apiError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, aerr := readBody(r)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mu.Lock()
		s.advance(s.now())
		out, aerr := fn(r)
		var raw []byte
		var err error
		if aerr == nil {
			if out == nil {
				out = struct{}{}
			}
			raw, err = json.Marshal(out)
		}
		s.mu.Unlock()
		switch {
		case aerr != nil:
			writeError(w, aerr)
		case err != nil:
			writeError(w, newError(http.StatusInternalServerError, codeInternal, "encode response: %v", err))
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(raw)
		}
	}
}

// registerFallback answers requests no route matches, after the same gateway.
func (s *Server) registerFallback() {
	s.mux.Handle("/", s.gateway(route{unknown: true}, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, newError(http.StatusNotFound, codeNotFound, "No API found for '%s %s'", r.Method, r.URL.Path))
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
			writeError(w, aerr)
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
	writeError(w, statusError(f.Status, "injected fault: "+http.StatusText(f.Status)))
	return true
}

// authenticate checks the bearer token: none is 401, a wrong one 403, with
// the Databricks error body either way.
func (s *Server) authenticate(r *http.Request) *apiError {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if h == "" || !ok {
		return newError(http.StatusUnauthorized, codeUnauthenticated, "Credential was not sent or was of an unsupported type for this API.")
	}
	if !s.tokens[strings.TrimSpace(token)] {
		return newError(http.StatusForbidden, codePermissionDenied, "Invalid access token.")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) { core.WriteJSON(w, status, v) }

func writeError(w http.ResponseWriter, e *apiError) { core.WriteError(w, e) }
