package emulator

import (
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/jobs"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/registry"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/serving"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

// Options configure a Server. The zero value is ready for tests: a free port
// on 127.0.0.1, a random token, instant state machines, no persistence.
type Options struct {
	// Addr is the listen address; its host must be a loopback address.
	// Default "127.0.0.1:0", a free port.
	Addr string
	// Token is the personal access token the server accepts; empty generates
	// a random one (see Server.Token).
	Token string
	// ExtraTokens are accepted as well, for tests with several credentials.
	ExtraTokens []string
	// UserName is the identity behind the tokens (SCIM Me, creators, owners).
	// Default "emulator@localhost".
	UserName string

	// TimeScale is real time per unit of service time: 1 keeps the durations
	// of the real service (a 5-minute endpoint update takes 5 minutes), 0.01
	// makes it take 3 seconds (the demo), and 0 makes every timed transition
	// complete by the next read (tests). Injected model latency is slept for
	// latency x TimeScale, while metrics report the unscaled latency.
	TimeScale float64
	// Clock replaces the wall clock, for tests that step time with a
	// ManualClock (use TimeScale 1 then, and Advance by service durations).
	// With a custom clock, invocations never sleep.
	Clock Clock
	// Durations of the state machines in service time; zero fields take the
	// defaults (DefaultDurations).
	Durations Durations

	// StateFile, when set, loads the workspace from this JSON file at Start
	// and writes it back after every change, so separate processes (mage
	// invocations) share one workspace. One server per file at a time.
	StateFile string
	// Seed makes traffic routing and behaviour draws, and the MLflow run,
	// registered model and endpoint ids, reproducible; 0 uses a fixed
	// default seed.
	Seed uint64
	// DefaultBehavior answers invocations of model versions that have no
	// behaviour of their own; nil means the contract stand-in with no latency
	// and no errors.
	DefaultBehavior *Behavior
	// Metrics shapes the metrics export.
	Metrics MetricsOptions
	// MetricsClock, when set, is the service time whose minutes the metrics
	// export's windows follow (a test's virtual clock). Default: the
	// emulator's clock, scaled by TimeScale when that is above 0.
	MetricsClock Clock
	// MaxRequestLog bounds the request log; the oldest entries are dropped.
	// Default 50,000.
	MaxRequestLog int

	// WorkspaceID is the workspace's numeric id, sent as the
	// X-Databricks-Org-Id header of SCIM Me and as ?o= in run page URLs.
	// Default DefaultWorkspaceID.
	WorkspaceID int64
	// LegacyRegistry serves the workspace model registry
	// (/api/2.0/mlflow/registered-models/..., model-versions/...,
	// transition-requests/...). Off by default, as on the workspaces of new
	// accounts, whose registry routes all answer 403 PERMISSION_DENIED "The
	// legacy workspace model registry is disabled for the current Databricks
	// workspace." and whose models live in Unity Catalog.
	LegacyRegistry bool
	// Metastore is the Unity Catalog metastore the workspace is attached to;
	// nil gives the workspace a metastore of its own. StartWorkspaces
	// attaches all its workspaces to one.
	Metastore *unitycatalog.Metastore
	// CatalogSchema, when set, makes StartWorkspaces seed the metastore: a
	// catalog per workspace name holding this schema, both owned by that
	// workspace's principal, and each workspace's principal granted
	// USE_CATALOG, USE_SCHEMA and EXECUTE on the previous workspace's catalog
	// (dev -> staging -> prod), so each environment reads the one before.
	CatalogSchema string
	// WarehouseID is the id of the workspace's one SQL warehouse, which
	// the Statement Execution API runs on; bundles pass it as a variable.
	// Default DefaultWarehouseID, in every workspace of StartWorkspaces.
	WarehouseID string
	// RoutesByModelName answers traffic routes with served_model_name only,
	// as a service that leaves served_entity_name out does; clients must
	// read either name. Default: both names.
	RoutesByModelName bool
}

// DefaultWorkspaceID is the workspace id of a server without one.
const DefaultWorkspaceID int64 = 1000000000000000

// DefaultWarehouseID is the SQL warehouse id of a server without one
// (16 hex digits, as warehouse ids are).
const DefaultWarehouseID = "e000000000000001"

// The types of Options and of the Server's scripting methods that belong
// to a service package, under the names the emulator's users know.
type (
	// Behavior is how one model version answers invocations (package
	// serving).
	Behavior = serving.Behavior
	// Latency is a latency distribution of a Behavior.
	Latency = serving.Latency
	// FixedResponse answers matching records of a Behavior.
	FixedResponse = serving.FixedResponse
	// MetricsOptions shape the metrics export.
	MetricsOptions = serving.MetricsOptions
	// MetricsShape is how the metrics export presents its counts.
	MetricsShape = serving.MetricsShape
	// MetricsLabels is how the metrics export names a series' served entity.
	MetricsLabels = serving.MetricsLabels
	// EntityStats are the counters behind the metrics export of one served
	// entity.
	EntityStats = serving.EntityStats
	// RunOutcome scripts how a job run ends (package jobs).
	RunOutcome = jobs.RunOutcome
	// ManualClock is a Clock that moves only when told to.
	ManualClock = core.ManualClock
)

// The metrics export's shapes and label schemes (package serving).
const (
	MetricsGauges        = serving.MetricsGauges
	MetricsCounters      = serving.MetricsCounters
	MetricsByServedModel = serving.MetricsByServedModel
	MetricsUnlabelled    = serving.MetricsUnlabelled
)

// FixedLatency is a distribution that always draws d.
func FixedLatency(d time.Duration) Latency { return serving.FixedLatency(d) }

// NewManualClock returns a clock stopped at start.
func NewManualClock(start time.Time) *ManualClock { return core.NewManualClock(start) }

// Durations of the service's state machines, in service time.
type Durations struct {
	// EndpointUpdate is how long a config update that deploys new served
	// entities stays IN_PROGRESS (default 5m).
	EndpointUpdate time.Duration `json:"endpoint_update"`
	// TrafficUpdate is how long a traffic-only config update takes (default 10s).
	TrafficUpdate time.Duration `json:"traffic_update"`
	// RunPending is how long a job run stays PENDING (default 20s).
	RunPending time.Duration `json:"run_pending"`
	// RunDuration is how long a job run stays RUNNING unless scripted (default 2m).
	RunDuration time.Duration `json:"run_duration"`
	// ModelRegistration is how long a workspace model registry version
	// stays PENDING_REGISTRATION (default 30s). Unity Catalog versions are
	// READY when finalized: there is no timer.
	ModelRegistration time.Duration `json:"model_registration"`
}

// DefaultDurations are the service-time durations used for zero fields.
var DefaultDurations = Durations{
	EndpointUpdate:    5 * time.Minute,
	TrafficUpdate:     10 * time.Second,
	RunPending:        20 * time.Second,
	RunDuration:       2 * time.Minute,
	ModelRegistration: registry.DefaultRegistration,
}

func (d Durations) withDefaults() Durations {
	pick := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	return Durations{
		EndpointUpdate:    pick(d.EndpointUpdate, DefaultDurations.EndpointUpdate),
		TrafficUpdate:     pick(d.TrafficUpdate, DefaultDurations.TrafficUpdate),
		RunPending:        pick(d.RunPending, DefaultDurations.RunPending),
		RunDuration:       pick(d.RunDuration, DefaultDurations.RunDuration),
		ModelRegistration: pick(d.ModelRegistration, DefaultDurations.ModelRegistration),
	}
}

// Clock tells the emulator what time it is; every service package reads
// the same one.
type Clock = core.Clock

func scaled(d time.Duration, scale float64) time.Duration {
	return time.Duration(float64(d) * scale).Round(time.Millisecond)
}
