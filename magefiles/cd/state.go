package cd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/mattn/go-isatty"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle"
	"github.com/hitl-mlops/interrupt-agent/magefiles/notify"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// ExitAfterStageEnv names the test hook: the process exits right after the
// named stage succeeds, as if killed, leaving the lock and an in-progress
// record behind (for kill-and-rerun tests).
const ExitAfterStageEnv = "CD_TEST_EXIT_AFTER_STAGE"

// ExitAfterStageCode is the exit status the test hook uses.
const ExitAfterStageCode = 3

// Clock tells the time and sleeps; tests and the benchmark replace it.
// It is the rollout's clock, so one clock drives a whole deploy.
type Clock = rollout.Clock

// Timeouts bound the waits of a deploy.
type Timeouts struct {
	Training     time.Duration // a training job run
	Registration time.Duration // a model version becoming READY
	Endpoint     time.Duration // an endpoint config update
}

// DefaultTimeouts are generous: a real endpoint update takes minutes.
var DefaultTimeouts = Timeouts{Training: 2 * time.Hour, Registration: 20 * time.Minute, Endpoint: 45 * time.Minute}

// Options say how to build the State of one run. Targets fill the user's
// choices; tests also fill the seams (environment, clock, input, exit).
type Options struct {
	// Env is dev, staging or prod.
	Env string
	// Root is the repository root (databricks.yml, src/, tests/); default
	// the current repository.
	Root string
	// Release overrides the tag on HEAD (dev only).
	Release string
	// Engine is sdk, cli or auto (default: DEPLOY_ENGINE, then auto).
	Engine string
	// Yes approves without asking (-yes; APPROVE=1 does the same).
	Yes bool
	// PlanFile is a saved plan (deploy -plan=FILE): the deploy refuses
	// unless the plan and the live state it was made from still hold.
	PlanFile string
	// PlanOut is where `mage plan -out=FILE` saves the plan.
	PlanOut string
	// Load adds the load test to verify:dev and verify:prod (staging always runs it).
	Load bool
	// Vars are bundle variable overrides (name=value).
	Vars map[string]string
	// ArtifactsDir defaults to <Root>/artifacts.
	ArtifactsDir string

	// Getenv reads the environment (credentials, approvals, hooks); nil is os.Getenv.
	Getenv func(string) string
	// Out receives the run's output; nil is os.Stdout.
	Out io.Writer
	// Color turns on colored output.
	Color bool
	// Stdin answers the approval prompt; Interactive says whether it is a
	// terminal (nil: detect from os.Stdin).
	Stdin       io.Reader
	Interactive *bool
	// Clock replaces the wall clock.
	Clock Clock
	// Poll paces the waits the SDK has no waiter for (model versions).
	Poll PollPolicy
	// Timeouts bound the waits; zero fields take DefaultTimeouts.
	Timeouts Timeouts
	// Exit ends the process for the test hook; nil is os.Exit.
	Exit func(code int)
	// LookPath finds the Databricks CLI; nil is exec.LookPath.
	LookPath func(string) (string, error)
	// Client adjusts the workspace clients (tests: transport, retries).
	Client workspace.Options
	// Observe, when set, hears stage and wait events (the benchmark).
	Observe func(Event)
	// Process overrides this process's identity in the lock (tests that
	// simulate a killed deploy in the same process).
	Process Process
	// Smoke runs only the smoke cases in verify.
	Smoke bool
	// MetricsSettle is how long verify re-reads a metrics export that lags
	// behind the traffic; default 2 minutes.
	MetricsSettle time.Duration

	// ValidationOverride, when set, is why a production deploy goes ahead
	// without a passing validation verdict (deploy:prod -override); it is
	// recorded with who gave it.
	ValidationOverride string

	// Canary tunes the production rollout.
	Canary CanaryOptions
	// Notifier sends the deploy and rollback events; nil builds one from
	// the environment (notify.FromEnv with Getenv).
	Notifier *notify.Notifier
	// LockRefresh is how often a long rollout extends its lock; default
	// DefaultLockRefresh. Negative refreshes after every analysis interval.
	LockRefresh time.Duration
}

// CanaryOptions tune the production rollout (the canary, analysis and
// serve stages of deploy:prod).
type CanaryOptions struct {
	// Clock paces the analysis intervals and the rollout's READY polls;
	// nil is Options.Clock. The demo scales it; tests bring traffic with it.
	Clock rollout.Clock
	// Probes sends bounded probe traffic during every analysis interval, so
	// an endpoint with little traffic still gets a verdict
	// (CANARY_PROBES=1 does the same).
	Probes bool
	// OnUpdate hears every endpoint config the rollout sends, before it is
	// sent (audits, tests of the traffic invariants).
	OnUpdate func(serving.EndpointCoreConfigInput)
	// Backoff is the first pause between attempts to restore stable; zero
	// is the rollout's default.
	Backoff time.Duration
}

// CanaryProbesEnv turns on probe traffic during the canary analysis.
const CanaryProbesEnv = "CANARY_PROBES"

// DefaultLockRefresh is how often a long rollout extends its lock: well
// inside the lock's time to live.
const DefaultLockRefresh = 10 * time.Minute

// Process identifies a deploying process for the lock.
type Process struct {
	Machine string
	PID     int
}

// EnvConfig is what the stages need from one bundle target.
type EnvConfig struct {
	// Env is the target's environment and its policy.
	Env    Environment
	Bundle *bundle.Bundle
	Target workspace.Target
	// Registry is where the model lives: RegistryUnityCatalog or
	// RegistryWorkspace, by the resource the bundle declares (Connect
	// opens the ModelRegistry of that kind).
	Registry string
	// Model is the environment's model: catalog.schema.name in Unity
	// Catalog, the registered model's name in the workspace registry.
	Model string
	// Schema is the Unity Catalog schema (catalog.schema) holding Model.
	Schema string
	// ChampionAlias and ChallengerAlias name what serves 100% and the
	// canary candidate (Unity Catalog only).
	ChampionAlias, ChallengerAlias string
	// PromoteJobKey and PromoteJob: the job that copies a verified version
	// into this environment's Unity Catalog model (a job whose key
	// mentions promote).
	PromoteJobKey, PromoteJob string
	// promoteJobRequired: the model is promoted by the promote job (a
	// Unity Catalog model in an environment that promotes).
	promoteJobRequired bool
	// ServedPrefix names served entities: <prefix>-<version>, as the
	// bundle's endpoint resource does (var.model_name).
	ServedPrefix string
	// Endpoint is the serving endpoint resource (name, served entity settings, tags).
	Endpoint *serving.CreateServingEndpoint
	// TrainingJob is the training job's resource key and name.
	TrainingJobKey, TrainingJob string
	// Paths in the workspace.
	JournalDir, LockFile, BackupDir string
}

// State is everything one run knows: configuration, the release, the
// workspace client, and what earlier stages produced for later ones.
//
// The environment is the loaded target's (Config.Env); before LoadConfig
// only its name is known, as Opts.Env.
type State struct {
	Opts      Options
	Root      string
	Artifacts string
	Out       io.Writer
	Clock     Clock
	Getenv    func(string) string
	// scaledClock paces the canary against an emulator whose time runs
	// faster than the wall clock (canaryClock).
	scaledClock rollout.Clock

	// Config is the environment's bundle target (loaded by Connect, with the
	// deploying user known).
	Config  *EnvConfig
	Release release.Identity
	Client  *workspace.Client
	// Registry is the environment's model registry (opened by Connect).
	Registry ModelRegistry
	Engine   workspace.Engine
	Journal  *release.Journal

	// Filled by the stages, in order.
	Record     *release.Record
	Lock       *release.Held
	Approval   string
	Deployment *workspace.DeployResult
	Training   *Training
	// Source is the promotion source's record and the version it verified.
	Source        *release.Record
	SourceVersion *ml.ModelVersion
	// Route is how the version comes from Source: RouteCopy or RouteTrain.
	Route string
	// Version is the model version this release serves in Env.
	Version *ml.ModelVersion
	// Endpoint is what the endpoint serves after the serve stage.
	Endpoint *serving.ServingEndpointDetailed
	// Rollout is what the production rollout stages found and did.
	Rollout *RolloutState
	// Rollback is what a rollback restores (the rollback flow).
	Rollback *RollbackPlan
	// validationGate is the verdict or override a production deploy
	// relies on (CheckValidation), kept in its record.
	validationGate *ValidationGate

	// Waits and Stages are measurements of this run.
	Waits  []WaitStat
	Stages []release.StageResult

	current  string // the running stage
	cleanups []func(context.Context)
	// failOutcome, when set, replaces the flow's Failure outcome (an
	// aborted canary is recorded as aborted, not failed).
	failOutcome release.Outcome
	// announced is set once DeployStarted went out: only then do the end
	// events follow.
	announced bool
	// confirm, when set, shows what an approval is for and returns the
	// question (rollback, unlock); the deploy plan otherwise.
	confirm  func(ctx context.Context) (string, error)
	notifier *notify.Notifier
	clients  map[string]*workspace.Client // by env, for promotion sources
	configs  map[string]*EnvConfig
}

// NewState validates the options (environment, release rules) and builds
// the State. It reads git and the bundle, and talks to no workspace.
func NewState(ctx context.Context, o Options) (*State, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Clock == nil {
		o.Clock = rollout.WallClock{}
	}
	if o.Stdin == nil {
		o.Stdin = os.Stdin
	}
	if o.Interactive == nil {
		tty := isatty.IsTerminal(os.Stdin.Fd()) || isatty.IsCygwinTerminal(os.Stdin.Fd())
		o.Interactive = &tty
	}
	if o.Exit == nil {
		o.Exit = os.Exit
	}
	o.Timeouts = o.Timeouts.withDefaults()
	if o.Client.Getenv == nil {
		o.Client.Getenv = o.Getenv
	}
	if err := CheckEnv(o.Env); err != nil {
		return nil, err
	}
	if o.Root == "" {
		return nil, fmt.Errorf("cd: no repository root")
	}
	if o.ArtifactsDir == "" {
		o.ArtifactsDir = filepath.Join(o.Root, "artifacts")
	}
	s := &State{
		Opts: o, Root: o.Root, Artifacts: o.ArtifactsDir, Out: o.Out, Clock: o.Clock, Getenv: o.Getenv,
		clients: map[string]*workspace.Client{}, configs: map[string]*EnvConfig{},
	}
	return s, nil
}

func (t Timeouts) withDefaults() Timeouts {
	pick := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	return Timeouts{
		Training:     pick(t.Training, DefaultTimeouts.Training),
		Registration: pick(t.Registration, DefaultTimeouts.Registration),
		Endpoint:     pick(t.Endpoint, DefaultTimeouts.Endpoint),
	}
}

// Defer registers cleanup to run when the flow ends, success or not (the
// lock's release). Cleanups run last-in first-out with a fresh context.
func (s *State) Defer(cleanup func(context.Context)) { s.cleanups = append(s.cleanups, cleanup) }

func (s *State) runCleanups(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i](ctx)
	}
	s.cleanups = nil
}

// Printf writes a line of output.
func (s *State) Printf(format string, args ...any) {
	fmt.Fprintf(s.Out, format, args...)
}

// appendStepSummary adds Markdown to the GitHub job summary, when there is one.
func (s *State) appendStepSummary(md string) {
	path := s.Getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return
	}
	// #nosec G304 -- the runner's own summary file
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		s.Printf("   step summary not written: %v\n", err)
		return
	}
	defer f.Close()
	_, _ = f.WriteString(md)
}

// LoadConfig loads the bundle target for env, for the given deploying user
// ("" before the user is known: paths that need the user are placeholders).
func (s *State) LoadConfig(env, user string) (*EnvConfig, error) {
	if c, ok := s.configs[env]; ok && (user == "" || c.Bundle.Workspace.CurrentUser.UserName == user) {
		return c, nil
	}
	opts := bundle.LoadOptions{Target: env, Vars: s.Opts.Vars, CurrentUser: user, LookupEnv: s.lookupEnv}
	b, diags := bundle.Load(s.Root, opts)
	if diags.HasError() {
		return nil, fmt.Errorf("bundle target %s:\n%s", env, diags.String())
	}
	cfg, err := configFromBundle(env, b)
	if err != nil {
		return nil, err
	}
	if user != "" {
		s.configs[env] = cfg
	}
	return cfg, nil
}

func (s *State) lookupEnv(name string) (string, bool) {
	v := s.Getenv(name)
	return v, v != ""
}

// configFromBundle picks the environment's model, endpoint and training job
// out of the bundle target.
func configFromBundle(name string, b *bundle.Bundle) (*EnvConfig, error) {
	env, err := environmentOf(name, b)
	if err != nil {
		return nil, err
	}
	c := &EnvConfig{
		Env: env, Bundle: b,
		Target:     workspace.Target{Name: b.Target, Host: b.Workspace.Host, Profile: b.Workspace.Profile},
		JournalDir: path.Join(b.Workspace.RootPath, "releases", name),
		LockFile:   path.Join(b.Workspace.StatePath, "deploy-"+name+".lock.json"),
		BackupDir:  path.Join(b.Workspace.RootPath, "backups", name),
	}
	if err := c.chooseModel(b); err != nil {
		return nil, err
	}
	c.ServedPrefix = b.Var("model_name")
	if c.ServedPrefix == "" {
		c.ServedPrefix = c.Model
	}
	if len(b.ServingEndpoints) != 1 {
		return nil, fmt.Errorf("bundle target %s declares %d serving endpoints: want exactly one", name, len(b.ServingEndpoints))
	}
	for _, e := range b.ServingEndpoints {
		c.Endpoint = e.Request
	}
	var trainers []string
	for key, j := range b.Jobs {
		if strings.Contains(strings.ToLower(key), "promote") {
			c.PromoteJobKey, c.PromoteJob = key, j.Settings.Name
			continue
		}
		if strings.Contains(strings.ToLower(key), "train") || len(b.Jobs) == 1 {
			trainers = append(trainers, key)
			c.TrainingJobKey, c.TrainingJob = key, j.Settings.Name
		}
	}
	if env.TrainsEveryRelease() && len(trainers) != 1 {
		sort.Strings(trainers)
		return nil, fmt.Errorf("bundle target %s: want one training job (a job whose key mentions train), found %d %v", name, len(trainers), trainers)
	}
	if c.promoteJobRequired && c.PromoteJobKey == "" {
		return nil, fmt.Errorf("bundle target %s: a Unity Catalog model is promoted by a job whose key mentions promote (resources/promote_job.yml); the target declares none", name)
	}
	return c, nil
}

// chooseModel picks the environment's model from the bundle: a Unity
// Catalog model (registered_models) or a workspace registry one (models).
// Bundle validation refuses one model in both.
func (c *EnvConfig) chooseModel(b *bundle.Bundle) error {
	m, err := b.RegistryModel()
	if err != nil {
		return fmt.Errorf("bundle target %s: %w", c.Env, err)
	}
	c.Model = m.FullName
	c.Registry = RegistryWorkspace
	if m.Registry == bundle.RegistryUnityCatalog {
		c.Registry = RegistryUnityCatalog
		c.Schema = m.Catalog + "." + m.Schema
		c.ChampionAlias, c.ChallengerAlias = m.Champion, m.Challenger
		// Unity Catalog copies a version between environments with a job
		// of the target's own (MLflow's copy_model_version).
		c.promoteJobRequired = !c.Env.TrainsEveryRelease()
	}
	return nil
}

// Resources converts the bundle's resources for a deploy engine.
func (c *EnvConfig) Resources() workspace.Resources {
	r := workspace.Resources{
		Jobs: map[string]*jobs.JobSettings{}, Models: map[string]*ml.CreateModelRequest{},
		RegisteredModels: map[string]workspace.RegisteredModel{},
		Experiments:      map[string]*ml.Experiment{}, Endpoints: map[string]*serving.CreateServingEndpoint{},
	}
	for k, j := range c.Bundle.Jobs {
		r.Jobs[k] = j.Settings
	}
	for k, m := range c.Bundle.Models {
		r.Models[k] = m.Request
	}
	for k, m := range c.Bundle.RegisteredModels {
		r.RegisteredModels[k] = workspace.RegisteredModel{Request: m.Request, Grants: grantsOf(m.Grants)}
	}
	for k, e := range c.Bundle.Experiments {
		r.Experiments[k] = e.Experiment
	}
	for k, e := range c.Bundle.ServingEndpoints {
		r.Endpoints[k] = e.Request
	}
	return r
}

// ServedName is the served entity name of a version of the environment's model.
func (c *EnvConfig) ServedName(version string) string {
	return rollout.ServedEntityName(c.ServedPrefix, version)
}
