package serving

import (
	mrand "math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

// ModelVersions tells whether a model version may be served: its status
// ("READY" serves), or the registry's answer for a model or version the
// principal cannot read.
type ModelVersions interface {
	VersionStatus(principal, model, version string) (string, *core.Error)
}

// Tables is where inference tables live: the Unity Catalog metastore.
type Tables interface {
	CreateTable(principal, catalogName, schemaName, name string, cols []unitycatalog.Column) (string, *core.Error)
	AppendRow(full string, row []*string) error
}

// Options configure a Store.
type Options struct {
	// User is the workspace's user: creator of endpoints, requester of
	// invocations, the principal that reads model versions and creates
	// inference tables.
	User string
	// WorkspaceID is the workspace's id in ServedEntitiesTable.
	WorkspaceID int64
	// Clock is the emulator's clock; nil is the wall clock, on which
	// invocations sleep their drawn latency (scaled) and the metrics
	// export's minutes follow the scaled clock.
	Clock core.Clock
	// Scale is real time per unit of service time.
	Scale float64
	// Update and TrafficUpdate are how long a config update that deploys
	// new served entities, or only moves traffic, stays IN_PROGRESS, in
	// service time.
	Update, TrafficUpdate time.Duration
	// Random is the workspace's seeded generator: endpoint ids, traffic
	// routing and behaviour draws; nil is a generator of the store's own.
	Random *core.Random
	// Versions resolves the model versions served entities name.
	Versions ModelVersions
	// Tables holds the endpoints' inference tables.
	Tables Tables
	// DefaultBehavior answers for versions without a behaviour of their
	// own; nil is the contract stand-in.
	DefaultBehavior *Behavior
	// Metrics shapes the metrics export; MetricsClock, when set, is the
	// service time its minutes follow.
	Metrics      MetricsOptions
	MetricsClock core.Clock
	// RoutesByModelName answers traffic routes by served_model_name only.
	RoutesByModelName bool
	// Counted is called after an invocation changed the metrics, which
	// change too often to save on every request.
	Counted func()
	// State is what the state file held; zero starts empty.
	State State
}

// State is the serving part of the state file.
type State struct {
	Endpoints map[string]*endpoint `json:"serving_endpoints"`
	// ServedEntities are this workspace's rows of ServedEntitiesTable,
	// oldest first.
	ServedEntities []*servedEntity     `json:"served_entities,omitempty"`
	Behaviors      map[string]Behavior `json:"version_behaviors"`
	// Failures are the scripted endpoint update failures, by endpoint.
	Failures map[string][]string `json:"endpoint_failures"`
}

// endpoint is a serving endpoint with its served and pending configs.
type endpoint struct {
	Name           string                            `json:"name"`
	ID             string                            `json:"id"`
	Creator        string                            `json:"creator"`
	Created        int64                             `json:"created"`
	Updated        int64                             `json:"updated"`
	Description    string                            `json:"description,omitempty"`
	Tags           []serving.EndpointTag             `json:"tags,omitempty"`
	RouteOptimized bool                              `json:"route_optimized,omitempty"`
	Current        *config                           `json:"current,omitempty"`
	Pending        *config                           `json:"pending,omitempty"`
	UpdateState    serving.EndpointStateConfigUpdate `json:"update_state"`
	UpdateDoneAt   time.Time                         `json:"update_done_at"`
	UpdateFails    bool                              `json:"update_fails,omitempty"`
	NextConfig     int64                             `json:"next_config"`
	BuildLogs      map[string]string                 `json:"build_logs,omitempty"`
	Metrics        map[string]*entityMetrics         `json:"metrics,omitempty"`
	// Gateway is the endpoint's ai_gateway (inferencetables.go).
	Gateway *gateway `json:"ai_gateway,omitempty"`
}

// config is an endpoint config: served entities and their traffic.
type config struct {
	Version   int64                        `json:"version"`
	Entities  []serving.ServedEntityOutput `json:"entities"`
	Routes    []serving.Route              `json:"routes"`
	StartTime int64                        `json:"start_time"`
	Deploying map[string]bool              `json:"deploying,omitempty"` // entities built by this update
	Failed    map[string]bool              `json:"failed,omitempty"`
	// EntityIDs are the served entities' served_entity_ids, by name
	// (inferencetables.go).
	EntityIDs map[string]string `json:"entity_ids,omitempty"`
}

// Store is one workspace's model serving: endpoints, the behaviours of the
// versions they serve, and what their invocations left. It has its own
// lock.
type Store struct {
	mu                sync.Mutex
	user              string
	workspaceID       int64
	clock             core.Clock
	realTime          bool
	started           time.Time // the origin of the scaled metrics clock
	scale             float64
	update            time.Duration
	trafficUpdate     time.Duration
	random            *core.Random
	rng               *mrand.Rand // draws from random
	versions          ModelVersions
	tables            Tables
	defaultBehavior   *Behavior
	metrics           MetricsOptions
	metricsClock      core.Clock
	routesByModelName bool
	counted           func()

	st State
	// predictors holds Behavior.Predict functions, which cannot be persisted.
	predictors map[string]func([]any) []any
}

// New returns the serving store of opts.
func New(opts Options) *Store {
	s := &Store{
		user: opts.User, workspaceID: opts.WorkspaceID, clock: opts.Clock, scale: opts.Scale,
		update: opts.Update, trafficUpdate: opts.TrafficUpdate, random: opts.Random,
		versions: opts.Versions, tables: opts.Tables, defaultBehavior: opts.DefaultBehavior,
		metrics: opts.Metrics, metricsClock: opts.MetricsClock, routesByModelName: opts.RoutesByModelName,
		counted: opts.Counted, st: opts.State, predictors: map[string]func([]any) []any{},
	}
	if s.clock == nil {
		s.clock, s.realTime = core.WallClock{}, true
	}
	s.started = s.clock.Now()
	if s.random == nil {
		s.random = core.NewRandom(0)
	}
	s.rng = mrand.New(s.random) // #nosec G404 -- reproducible simulation, not security
	if s.counted == nil {
		s.counted = func() {}
	}
	if s.st.Endpoints == nil {
		s.st.Endpoints = map[string]*endpoint{}
	}
	if s.st.Behaviors == nil {
		s.st.Behaviors = map[string]Behavior{}
	}
	if s.st.Failures == nil {
		s.st.Failures = map[string][]string{}
	}
	s.adoptServedConfigs()
	return s
}

// MarshalState encodes the serving part of the state file.
func (s *Store) MarshalState() ([]byte, error) { return core.MarshalLocked(&s.mu, &s.st) }

// Advance finishes the config updates whose time is up.
func (s *Store) Advance() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
}

// advance finishes every update whose time is up. Call with s.mu held.
func (s *Store) advance() {
	now := s.clock.Now()
	for _, ep := range s.st.Endpoints {
		s.advanceEndpoint(ep, now)
	}
}

// after is the time at which a service-time duration d from now ends.
func (s *Store) after(d time.Duration) time.Time {
	return s.clock.Now().Add(core.Scaled(d, s.scale))
}

// FailNextUpdate makes the next config update of the endpoint (or its
// creation) end UPDATE_FAILED, with logs as the build logs of the served
// entities it deploys.
func (s *Store) FailNextUpdate(endpoint, logs string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Failures[endpoint] = append(s.st.Failures[endpoint], logs)
}

// SetBehavior sets how a model version answers invocations and whether
// its deployments fail, from the next request on, on every endpoint.
func (s *Store) SetBehavior(model, version string, b Behavior) {
	key := behaviorKey(model, version)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Behaviors[key] = b
	if b.Predict != nil {
		s.predictors[key] = b.Predict
	} else {
		delete(s.predictors, key)
	}
}

// Endpoint returns a serving endpoint as the API shows it now.
func (s *Store) Endpoint(name string) (serving.ServingEndpointDetailed, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	ep, ok := s.st.Endpoints[name]
	if !ok {
		return serving.ServingEndpointDetailed{}, false
	}
	return ep.render(), true
}

// Traffic returns the served config's traffic shares by served entity name
// (nil while the endpoint serves nothing).
func (s *Store) Traffic(endpoint string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	ep, ok := s.st.Endpoints[endpoint]
	if !ok || ep.Current == nil {
		return nil
	}
	out := map[string]int{}
	for _, r := range ep.Current.Routes {
		out[r.ServedEntityName] = r.TrafficPercentage
	}
	return out
}

// EntityStats are the counters behind the metrics export of one served entity.
type EntityStats struct {
	EntityName    string
	EntityVersion string
	Requests      int64
	Status4xx     int64
	Status5xx     int64
	LatencySumMs  float64
}

// EntityStats returns the invocation counters of an endpoint by served
// entity name, as they stand (no update is settled first).
func (s *Store) EntityStats(endpoint string) map[string]EntityStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	ep, ok := s.st.Endpoints[endpoint]
	if !ok {
		return nil
	}
	out := map[string]EntityStats{}
	for name, m := range ep.Metrics {
		out[name] = EntityStats{
			EntityName: m.EntityName, EntityVersion: m.EntityVersion,
			Requests: m.Requests, Status4xx: m.Status4xx, Status5xx: m.Status5xx, LatencySumMs: m.LatencySumMs,
		}
	}
	return out
}

// ServedEntityID is the served_entity_id of the entity an endpoint's
// served config names so; false when it serves no such entity.
func (s *Store) ServedEntityID(endpoint, servedEntity string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ep, ok := s.st.Endpoints[endpoint]
	if !ok {
		return "", false
	}
	s.advanceEndpoint(ep, s.clock.Now())
	id := ep.Current.entityID(servedEntity)
	return id, id != ""
}

// sortedNames are the endpoints' names in order.
func (s *Store) sortedNames() []string {
	names := make([]string, 0, len(s.st.Endpoints))
	for n := range s.st.Endpoints {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
