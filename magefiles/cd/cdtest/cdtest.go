// Package cdtest builds what CD tests run against: a real git repository
// holding a copy of this project's bundle (databricks.yml, resources/,
// src/, the integration cases) whose targets point at a workspace
// emulator, and cd.Options wired to it. The e2e tests and the cd package's
// own tests share it.
package cdtest

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/traffic"
	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// Repo is a git repository with the project's bundle.
type Repo struct {
	T   testing.TB
	Dir string
}

// NewRepo makes a repository on branch main with one commit holding the
// project's bundle, every target's workspace.host set to host.
func NewRepo(t testing.TB, host string) *Repo {
	t.Helper()
	return newRepo(t, func(root, dir string) error { return project.CopyBundle(root, dir, host) })
}

// newRepo commits the bundle copy makes.
func newRepo(t testing.TB, copyBundle func(root, dir string) error) *Repo {
	t.Helper()
	root, err := project.Root()
	require.NoError(t, err)
	r := &Repo{T: t, Dir: t.TempDir()}
	require.NoError(t, copyBundle(root, r.Dir))
	r.Git("init", "--quiet", "--initial-branch=main")
	r.Git("add", ".")
	r.Git("commit", "--quiet", "-m", "bundle")
	return r
}

// NewRepoIn is NewRepo with each target pointing at its own workspace of
// ws (dev at ws's dev, staging at its staging, ...).
func NewRepoIn(t testing.TB, ws *emulator.Workspaces) *Repo {
	t.Helper()
	hosts := map[string]string{}
	for _, n := range ws.Names() {
		hosts[n] = ws.Get(n).URL()
	}
	return newRepo(t, func(root, dir string) error { return project.CopyBundleHosts(root, dir, hosts) })
}

// WorkspaceRegistryBundle is the project's bundle as a team still on the
// workspace model registry has it (resources.models, a model per target,
// no promote job): the flows keep that path working on workspaces whose
// legacy registry is enabled.
const WorkspaceRegistryBundle = "magefiles/cd/cdtest/testdata/workspace-registry"

// NewWorkspaceRegistryRepo is NewRepo with WorkspaceRegistryBundle's
// databricks.yml and resources/ in place of the project's.
func NewWorkspaceRegistryRepo(t testing.TB, host string) *Repo {
	t.Helper()
	return newRepo(t, func(root, dir string) error {
		if err := overlayWorkspaceRegistry(root, dir); err != nil {
			return err
		}
		return project.CopyBundle(dir, dir, host)
	})
}

// NewWorkspaceRegistryRepoIn is NewRepoIn with WorkspaceRegistryBundle.
func NewWorkspaceRegistryRepoIn(t testing.TB, ws *emulator.Workspaces) *Repo {
	t.Helper()
	hosts := map[string]string{}
	for _, n := range ws.Names() {
		hosts[n] = ws.Get(n).URL()
	}
	return newRepo(t, func(root, dir string) error {
		if err := overlayWorkspaceRegistry(root, dir); err != nil {
			return err
		}
		return project.CopyBundleHosts(dir, dir, hosts)
	})
}

// overlayWorkspaceRegistry copies the project's bundle into dir, then
// replaces databricks.yml and resources/ with WorkspaceRegistryBundle's.
func overlayWorkspaceRegistry(root, dir string) error {
	if err := project.CopyBundle(root, dir, "https://unset.invalid"); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(dir, "resources")); err != nil {
		return err
	}
	return project.CopyBundleFiles(filepath.Join(root, filepath.FromSlash(WorkspaceRegistryBundle)), dir, "databricks.yml", "resources")
}

// Git runs git in the repository, isolated from the user's configuration.
func (r *Repo) Git(args ...string) string {
	r.T.Helper()
	// #nosec G204 -- git, a fixed program, on a test's repository in t.TempDir(); no shell
	cmd := exec.Command("git", args...)
	cmd.Dir = r.Dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.com")
	out, err := cmd.CombinedOutput()
	require.NoError(r.T, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// Commit changes a file under src/ and commits it.
func (r *Repo) Commit(msg string) {
	r.T.Helper()
	p := filepath.Join(r.Dir, "src", "human_interrupt_agent", "CHANGES.txt")
	// #nosec G304 -- a fixed file in a test's repository in t.TempDir()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(r.T, err)
	_, err = f.WriteString(msg + "\n")
	require.NoError(r.T, err)
	require.NoError(r.T, f.Close())
	r.Git("add", ".")
	r.Git("commit", "--quiet", "-m", msg)
}

// Tag tags HEAD.
func (r *Repo) Tag(tag string) { r.T.Helper(); r.Git("tag", tag) }

// Head is HEAD's commit id.
func (r *Repo) Head() string { r.T.Helper(); return r.Git("rev-parse", "HEAD") }

// Schema is the schema of the bundle's Unity Catalog model (var.schema):
// Workspace and Workspaces seed a catalog per environment holding it, as
// the README's grants table describes (emulator.Options.CatalogSchema).
const Schema = "human_interrupt_agent"

// LegacyRegistry keeps a workspace's legacy workspace model registry
// enabled, for the bundles that declare resources.models
// (NewWorkspaceRegistryRepo); the emulator disables it by default, as
// Databricks does on workspaces of new accounts.
func LegacyRegistry(o *emulator.Options) { o.LegacyRegistry = true; o.CatalogSchema = "" }

// ModelLatency is the emulator's default model latency in these tests. It
// is reported by the metrics export (and slept only with a time scale), so
// the canary's p95 comparison measures the model rather than the
// emulator's own handling time, which varies with the machine's load.
var ModelLatency = emulator.Latency{Median: 40 * time.Millisecond, P99: 80 * time.Millisecond}

// Workspace starts an emulator whose state machines finish by the next
// read (TimeScale 0), closed when the test ends, with the legacy
// registry disabled and a catalog per environment (Schema).
func Workspace(t testing.TB, opts ...func(*emulator.Options)) *emulator.Server {
	t.Helper()
	mc := &metricsClock{}
	o := emulator.Options{DefaultBehavior: &emulator.Behavior{Latency: ModelLatency}, MetricsClock: mc, CatalogSchema: Schema}
	for _, f := range opts {
		f(&o)
	}
	srv, err := emulator.Start(o)
	require.NoError(t, err)
	if o.CatalogSchema != "" {
		// One workspace holds every environment's catalog.
		ms := srv.Metastore()
		for _, env := range cd.Envs {
			require.NoError(t, ms.CreateCatalog(srv.UserName(), env))
			require.NoError(t, ms.CreateSchema(srv.UserName(), env, o.CatalogSchema))
		}
	}
	metricsClocks.Store(srv, mc)
	t.Cleanup(func() { metricsClocks.Delete(srv); _ = srv.Close() })
	return srv
}

// Workspaces starts one emulator per environment (dev, staging, prod),
// each its own workspace, closed when the test ends. Their metrics exports
// share one clock: the latest of the test's runs, in whichever workspace.
func Workspaces(t testing.TB, opts ...func(*emulator.Options)) *emulator.Workspaces {
	t.Helper()
	mc := &metricsClock{}
	o := emulator.Options{DefaultBehavior: &emulator.Behavior{Latency: ModelLatency}, MetricsClock: mc, CatalogSchema: Schema}
	for _, f := range opts {
		f(&o)
	}
	ws, err := emulator.StartWorkspaces(cd.Envs, o)
	require.NoError(t, err)
	for _, env := range cd.Envs {
		metricsClocks.Store(ws.Get(env), mc)
	}
	t.Cleanup(func() {
		for _, env := range cd.Envs {
			metricsClocks.Delete(ws.Get(env))
		}
		_ = ws.Close()
	})
	return ws
}

// NewRunIn is NewRun for env against its own workspace of ws, with every
// environment's credentials as the README describes them:
// DATABRICKS_HOST_<ENV> and DATABRICKS_TOKEN_<ENV>.
func NewRunIn(t testing.TB, repo *Repo, ws *emulator.Workspaces, env string) *Run {
	r := NewRun(t, repo, ws.Get(env), env)
	r.Opts.Getenv = Env(ws.Env()).Getenv
	return r
}

// metricsClocks holds each workspace's metrics clock.
var metricsClocks sync.Map // *emulator.Server -> *metricsClock

// metricsClock is the service time of a workspace's metrics export: the
// latest of its runs' virtual clocks, so the export's minutes close as the
// canary's clock moves on.
type metricsClock struct {
	mu     sync.Mutex
	clocks []*traffic.Clock
}

func (m *metricsClock) add(c *traffic.Clock) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.clocks = append(m.clocks, c)
}

// Now implements emulator.Clock: the wall clock before any run.
func (m *metricsClock) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if len(m.clocks) > 0 {
		now = time.Time{}
	}
	for _, c := range m.clocks {
		if t := c.Now(); t.After(now) {
			now = t
		}
	}
	return now
}

// Env is an environment as a map, for Options.Getenv.
type Env map[string]string

// Getenv reads the map.
func (e Env) Getenv(k string) string { return e[k] }

// Run is one cd run's options and output.
type Run struct {
	Opts cd.Options
	out  *syncBuffer
	// Exits records the codes passed to Options.Exit.
	Exits []int
	// Traffic is the canary's clock: virtual time in which clients call
	// the environment's endpoint.
	Traffic *traffic.Clock
}

// ClientRate is the client traffic of the canary's clock, in requests per
// second of virtual time: the candidate at 10% gets about 150 requests a
// minute, 450 in the test canary's 3 minutes, above its min_requests (100).
const ClientRate = 25

// CanaryVars are the test rollout settings: the export read every virtual
// minute, at most 3 minutes, 100 candidate requests needed; the bundle's
// canary_alpha and canary_max_error_ratio.
var CanaryVars = map[string]string{"analysis_interval": "1m", "canary_max_duration": "3m", "min_requests": "100"}

// Output is what the run printed.
func (r *Run) Output() string { return r.out.String() }

// NewRun returns options for env against srv: the emulator's token, no
// terminal, approval given (-yes), quick polls, artifacts in a temporary
// folder. Adjust Opts before use.
func NewRun(t testing.TB, repo *Repo, srv *emulator.Server, env string) *Run {
	r := &Run{out: &syncBuffer{}}
	no := false
	r.Opts = cd.Options{
		Env: env, Root: repo.Dir, Yes: true,
		// A short load test: the thresholds stay the bundle's.
		Vars:          map[string]string{"load_duration": "1s", "load_concurrency": "2"},
		Canary:        cd.CanaryOptions{Backoff: 10 * time.Millisecond},
		Getenv:        Env{"DATABRICKS_TOKEN": srv.Token()}.Getenv,
		Out:           r.out,
		Stdin:         strings.NewReader(""),
		Interactive:   &no,
		ArtifactsDir:  filepath.Join(repo.Dir, "artifacts"),
		Poll:          cd.PollPolicy{Initial: 5 * time.Millisecond, Step: 5 * time.Millisecond, Max: 50 * time.Millisecond},
		Timeouts:      cd.Timeouts{Training: time.Minute, Registration: time.Minute, Endpoint: time.Minute},
		Client:        workspace.Options{SkipConfigFile: true, RetryTimeoutSeconds: 30, RateLimitPerSecond: 10000},
		LookPath:      func(string) (string, error) { return "", exec.ErrNotFound },
		MetricsSettle: time.Second,
		Exit: func(code int) {
			r.Exits = append(r.Exits, code)
		},
	}
	for k, v := range CanaryVars {
		r.Opts.Vars[k] = v
	}
	// Clients send plain HTTP (a canary test sends thousands of requests;
	// the SDK's per-request work is the deploy's to exercise, not theirs),
	// on connections of their own, so their traffic never queues behind
	// the deploy's calls. Now starts at the wall clock, so records and
	// locks read sensibly, or a minute past the workspace's metrics clock,
	// so minutes of an earlier run are never counted again.
	start := time.Now()
	mc, _ := metricsClocks.Load(srv)
	if m, ok := mc.(*metricsClock); ok {
		if t := m.Now(); !t.Before(start) {
			start = t.Add(time.Minute)
		}
	}
	r.Traffic = traffic.NewClock(traffic.NewHTTPQuerier(srv.URL(), srv.Token()), endpointName(t, r.Opts), start, ClientRate)
	if m, ok := mc.(*metricsClock); ok {
		m.add(r.Traffic)
	}
	r.Opts.Canary.Clock = r.Traffic
	if testing.Verbose() {
		r.Opts.Out = io.MultiWriter(r.out, testWriter{t})
	}
	return r
}

// endpointName is the serving endpoint of the run's bundle target, "" when
// the options do not name a valid one (bad-input tests).
func endpointName(t testing.TB, o cd.Options) string {
	t.Helper()
	s, err := cd.NewState(context.Background(), o)
	if err != nil {
		return ""
	}
	c, err := s.LoadConfig(o.Env, "")
	if err != nil {
		return ""
	}
	return c.Endpoint.Name
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

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
