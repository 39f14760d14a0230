package bundle

import (
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/dyn"
)

// Mode is a target's deployment mode.
type Mode string

const (
	// ModeNone is a target without a mode: no transformations, no checks.
	ModeNone Mode = ""
	// ModeDevelopment prefixes names with the user, pauses schedules and
	// checks that paths are per user.
	ModeDevelopment Mode = "development"
	// ModeProduction requires an explicit workspace root path and rejects
	// development-only settings.
	ModeProduction Mode = "production"
)

// User is the identity that deploys, as the workspace reports it.
type User struct {
	// UserName is an e-mail for people, an application ID (a UUID) for
	// service principals.
	UserName string
	// DisplayName is used for the short name of service principals.
	DisplayName string
}

// OfflineUser is the deploying user assumed when LoadOptions gives neither a
// CurrentUser nor a LookupUser: validation must run offline, and
// development-mode names need some user. Deploy stages always pass the real
// user.
const OfflineUser = "offline.user@example.com"

// LoadOptions select and parameterise a target.
type LoadOptions struct {
	// Target names the target; empty selects the one marked default: true
	// (or the only one).
	Target string
	// Vars are --var name=value overrides; they win over everything.
	Vars map[string]string
	// LookupEnv reads the environment for BUNDLE_VAR_<name> overrides.
	// Nil means no environment (tests, reproducible validation); pass
	// os.LookupEnv for the real one.
	LookupEnv func(string) (string, bool)
	// CurrentUser is the deploying user's name (userName). When empty,
	// LookupUser is asked, and when that is nil too, OfflineUser is used.
	CurrentUser string
	// LookupUser resolves the current user from the workspace; it is only
	// called when the configuration needs the user.
	LookupUser func() (User, error)
	// Lookup resolves a variable's lookup (kind as written, such as
	// cluster or service_principal, and the object's name) to the id the
	// variable takes. Without it lookups are a warning and stay pending.
	Lookup func(kind, name string) (string, error)
	// Host, when set, is the workspace the caller is about to talk to; it
	// must match the target's workspace.host.
	Host string
	// FS replaces the directory root with a file system (tests, fuzzing).
	// Paths in FS are relative to the bundle root.
	FS fs.FS
}

// Variable is one resolved bundle variable.
type Variable struct {
	Name        string
	Description string
	// Value is the resolved value: string, int64, float64, bool, or for
	// complex variables map[string]any / []any.
	Value any
	// Source says where the value came from: "default", "target <name>",
	// "--var" or "BUNDLE_VAR_<name>".
	Source string
	// Location is where the value was written; zero for --var and the
	// environment.
	Location diag.Location
}

// Workspace is the resolved workspace section.
type Workspace struct {
	Host         string
	Profile      string
	RootPath     string
	FilePath     string
	ArtifactPath string
	StatePath    string
	ResourcePath string
	CurrentUser  User
	// ShortName is the normalized user name used in development prefixes.
	ShortName string
}

// Sync lists the local paths a deploy uploads (relative to the bundle
// root) and extra include/exclude patterns.
type Sync struct {
	Paths   []string
	Include []string
	Exclude []string
}

// Job is a job resource: the SDK settings, ready for Jobs.Create/Reset.
type Job struct {
	Key         string
	Settings    *jobs.JobSettings
	Permissions []Permission
	Location    diag.Location
}

// ServingEndpoint is a model serving endpoint resource: the SDK create
// request, ready for ServingEndpoints.Create.
type ServingEndpoint struct {
	Key         string
	Request     *serving.CreateServingEndpoint
	Permissions []Permission
	Location    diag.Location
}

// Model is a workspace model registry model (resources.models).
type Model struct {
	Key         string
	Request     *ml.CreateModelRequest
	Permissions []Permission
	Location    diag.Location
}

// RegisteredModel is a Unity Catalog registered model
// (resources.registered_models).
type RegisteredModel struct {
	Key      string
	Request  *catalog.CreateRegisteredModelRequest
	Grants   []Grant
	Location diag.Location
}

// Experiment is an MLflow experiment resource.
type Experiment struct {
	Key         string
	Experiment  *ml.Experiment
	Permissions []Permission
	Location    diag.Location
}

// Lookup is a variable whose value is the id of a workspace object found
// by name (variables.<name>.lookup).
type Lookup struct {
	Variable string
	// Kind is the object type as written: cluster, job, warehouse, ...
	Kind string
	Name string
}

// OtherResource is a resource of a type the deploy does not read.
type OtherResource struct {
	// Kind is the type's key under resources: (pipelines, volumes, ...).
	Kind string
	Key  string
	// Name is the name the workspace knows it by, when the configuration
	// gives one (catalog.schema.name for Unity Catalog securables).
	Name     string
	Location diag.Location
}

// Bundle is one target of a bundle, fully resolved: overrides merged,
// variables and references interpolated, mode and presets applied and
// resources decoded into the SDK's types.
type Bundle struct {
	// Root is the bundle directory.
	Root string
	// Name is bundle.name.
	Name string
	// Target is the selected target's name.
	Target string
	// Mode is the target's mode.
	Mode       Mode
	Workspace  Workspace
	Deployment Deployment
	Presets    Presets
	// Permissions are the top-level permissions (after target overrides).
	Permissions []Permission
	// RunAs is the top-level run_as, if any.
	RunAs *RunAs
	// Sync is the sync section: which local files a deploy uploads.
	Sync Sync
	// Variables by name.
	Variables map[string]*Variable

	Jobs             map[string]*Job
	ServingEndpoints map[string]*ServingEndpoint
	Models           map[string]*Model
	RegisteredModels map[string]*RegisteredModel
	Experiments      map[string]*Experiment
	// Others are the resources of every other type the CLI defines
	// (pipelines, schemas, volumes, apps, ...): checked against their
	// schema and kept as written in the configuration.
	Others []*OtherResource

	// Rollout, LoadTest and Validation are read from the variables when
	// the bundle declares them (nil otherwise); see RolloutPolicy,
	// LoadPolicy and ValidationPolicy.
	Rollout    *RolloutPolicy
	LoadTest   *LoadPolicy
	Validation *ValidationPolicy

	// PendingLookups are the variable lookups left for the deploy, which
	// has a workspace (none when LoadOptions.Lookup resolved them).
	PendingLookups []Lookup
	// PythonFunctions are the python.resources and python.mutators the
	// CLI would run to define or change resources.
	PythonFunctions []string

	// Targets lists every target the configuration defines, in order.
	Targets []string

	config dyn.Value
}

// Load reads the bundle at root for one target. The diagnostics hold every
// problem found; when they include an error the returned Bundle is nil.
func Load(root string, opts LoadOptions) (*Bundle, diag.Diagnostics) {
	l := newLoader(root, opts)
	b := l.run()
	if l.diags.HasError() {
		return nil, l.diags
	}
	return b, l.diags
}

// Validate is Load for callers that only want the diagnostics.
func Validate(root string, opts LoadOptions) diag.Diagnostics {
	_, diags := Load(root, opts)
	return diags
}

// TargetResult is the validation of one target.
type TargetResult struct {
	Target      string
	Diagnostics diag.Diagnostics
	Duration    time.Duration
	// Bundle is the loaded target, nil when it has errors.
	Bundle *Bundle
}

// ValidateAll validates every target the bundle defines, in the order the
// configuration defines them, so
// a broken prod target fails CI even when only dev is used day to day.
// opts.Target is ignored. When the bundle cannot be read far enough to
// list its targets, the one result has an empty Target.
func ValidateAll(root string, opts LoadOptions) []TargetResult {
	names, diags := Targets(root, opts)
	if diags.HasError() {
		return []TargetResult{{Diagnostics: diags}}
	}
	out := make([]TargetResult, 0, len(names))
	for _, name := range names {
		o := opts
		o.Target = name
		start := time.Now()
		b, ds := Load(root, o)
		out = append(out, TargetResult{Target: name, Diagnostics: ds, Duration: time.Since(start), Bundle: b})
	}
	return out
}

// HasError reports whether any target has an error.
func HasError(results []TargetResult) bool {
	for _, r := range results {
		if r.Diagnostics.HasError() {
			return true
		}
	}
	return false
}

// Targets lists the targets of the bundle at root in definition order.
// Targets from included files count.
func Targets(root string, opts LoadOptions) ([]string, diag.Diagnostics) {
	l := newLoader(root, opts)
	l.loadFiles()
	if l.diags.HasError() {
		return nil, l.diags
	}
	names := l.targetNames()
	if len(names) == 0 {
		names = []string{defaultTargetName}
	}
	return names, nil
}

// Config returns the fully resolved configuration as indented JSON, like
// `databricks bundle validate -o json`: targets are gone, variables carry
// their values, resources are normalized to the SDK's field types.
func (b *Bundle) Config() ([]byte, error) {
	return dyn.IndentJSON(b.config)
}

// Value returns the resolved configuration value at a path such as
// "resources.jobs.train_model.name", for callers that need a setting this
// type does not surface.
func (b *Bundle) Value(path string) (any, bool) {
	p, err := dyn.ParsePath(path)
	if err != nil {
		return nil, false
	}
	v := dyn.GetPath(b.config, p)
	if !v.IsValid() {
		return nil, false
	}
	return v.Interface(), true
}

// Location returns where the value at path was written, so other stages
// can point their own diagnostics at the configuration.
func (b *Bundle) Location(path string) diag.Location {
	p, err := dyn.ParsePath(path)
	if err != nil {
		return diag.Location{}
	}
	return dyn.LocationOf(b.config, p)
}

// Var returns a variable's value as a string ("" when it does not exist).
func (b *Bundle) Var(name string) string {
	v, ok := b.Variables[name]
	if !ok || v.Value == nil {
		return ""
	}
	switch x := v.Value.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}

// IntVar returns a variable as an integer.
func (b *Bundle) IntVar(name string) (int, error) {
	v, err := b.variable(name)
	if err != nil {
		return 0, err
	}
	n, ok := asInt(v.Value)
	if !ok {
		return 0, fmt.Errorf("variable %s: %s is not an integer", name, quoteValue(v.Value))
	}
	return n, nil
}

// FloatVar returns a variable as a float.
func (b *Bundle) FloatVar(name string) (float64, error) {
	v, err := b.variable(name)
	if err != nil {
		return 0, err
	}
	f, ok := asFloat(v.Value)
	if !ok {
		return 0, fmt.Errorf("variable %s: %s is not a number", name, quoteValue(v.Value))
	}
	return f, nil
}

// BoolVar returns a variable as a bool.
func (b *Bundle) BoolVar(name string) (bool, error) {
	v, err := b.variable(name)
	if err != nil {
		return false, err
	}
	x, ok := asBool(v.Value)
	if !ok {
		return false, fmt.Errorf("variable %s: %s is not true or false", name, quoteValue(v.Value))
	}
	return x, nil
}

// DurationVar returns a variable as a duration: a Go duration string such
// as "60s" or "2m30s", or a plain number of seconds.
func (b *Bundle) DurationVar(name string) (time.Duration, error) {
	v, err := b.variable(name)
	if err != nil {
		return 0, err
	}
	d, ok := asDuration(v.Value)
	if !ok {
		return 0, fmt.Errorf("variable %s: %s is not a duration such as 60s or 2m", name, quoteValue(v.Value))
	}
	return d, nil
}

func (b *Bundle) variable(name string) (*Variable, error) {
	v, ok := b.Variables[name]
	if !ok {
		return nil, fmt.Errorf("variable %s is not defined in the bundle", name)
	}
	return v, nil
}

// ServingEndpoint returns the endpoint resource by key.
func (b *Bundle) ServingEndpoint(key string) (*ServingEndpoint, error) {
	e, ok := b.ServingEndpoints[key]
	if !ok {
		return nil, fmt.Errorf("bundle %s (target %s) has no serving endpoint %q; it has %s", b.Name, b.Target, key, keyList(b.ServingEndpoints))
	}
	return e, nil
}

// Job returns the job resource by key.
func (b *Bundle) Job(key string) (*Job, error) {
	j, ok := b.Jobs[key]
	if !ok {
		return nil, fmt.Errorf("bundle %s (target %s) has no job %q; it has %s", b.Name, b.Target, key, keyList(b.Jobs))
	}
	return j, nil
}

// Model returns the workspace registry model resource by key.
func (b *Bundle) Model(key string) (*Model, error) {
	m, ok := b.Models[key]
	if !ok {
		return nil, fmt.Errorf("bundle %s (target %s) has no model %q; it has %s", b.Name, b.Target, key, keyList(b.Models))
	}
	return m, nil
}

// CheckHost reports whether host names the target's workspace. Hosts are
// compared without scheme case, trailing slashes or default ports.
func (b *Bundle) CheckHost(host string) error {
	if b.Workspace.Host == "" || host == "" {
		return nil
	}
	if normalizeHost(host) != normalizeHost(b.Workspace.Host) {
		return fmt.Errorf("target %s deploys to %s, but the credentials are for %s: set DATABRICKS_HOST (or the profile) for the %s workspace", b.Target, b.Workspace.Host, host, b.Target)
	}
	return nil
}

func normalizeHost(h string) string {
	h = strings.TrimSpace(strings.ToLower(h))
	if !strings.Contains(h, "://") {
		h = "https://" + h
	}
	h = strings.TrimRight(h, "/")
	h = strings.TrimSuffix(h, ":443")
	return h
}

func keyList[V any](m map[string]V) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// ParseVars turns ["name=value", ...] (the --var flag) into a map.
func ParseVars(pairs []string) (map[string]string, error) {
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("invalid --var %q: want name=value", p)
		}
		out[name] = value
	}
	return out, nil
}

// dirFS is the default file system: the bundle root on disk.
func dirFS(root string) fs.FS { return os.DirFS(root) }
