package cd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/databricks/databricks-sdk-go/service/ml"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// LoadConfig loads and checks the environment's bundle target (offline).
type LoadConfig struct{}

// Name implements Stage.
func (LoadConfig) Name() string { return "config" }

// Run implements Stage.
func (LoadConfig) Run(_ context.Context, s *State) error {
	cfg, err := s.LoadConfig(s.Opts.Env, "")
	if err != nil {
		return err
	}
	s.Config = cfg
	s.Printf("   target %s in %s\n", cfg.Target.Name, cfg.Target.Host)
	return nil
}

// CheckRelease works out the release from the tag on HEAD and applies the
// environment's rules (prod: a stable tag whose commit is on main).
type CheckRelease struct{}

// Name implements Stage.
func (CheckRelease) Name() string { return "release" }

// Run implements Stage.
func (CheckRelease) Run(ctx context.Context, s *State) error {
	env := s.Config.Env
	id, err := release.ResolveIdentity(ctx, release.Git{Dir: s.Root}, release.IdentityOptions{
		Env: env.Name(), Override: s.Opts.Release, AllowOverride: env.AllowsReleaseOverride(), Production: env.Production(),
	})
	if err != nil {
		return err
	}
	s.Release = id
	dirty := ""
	if id.Git.Dirty {
		dirty = ", uncommitted changes in the tree"
	}
	s.Printf("   %s at %s (%s%s)\n", id.Tag, release.ShortSHA(id.SHA), id.Source, dirty)
	return nil
}

// Connect makes the workspace client (host and credential checks),
// reloads the target for the authenticated user and opens its model
// registry.
type Connect struct{}

// Name implements Stage.
func (Connect) Name() string { return "connect" }

// Run implements Stage.
func (Connect) Run(ctx context.Context, s *State) error {
	name := s.Config.Env.Name()
	c, err := s.connect(ctx, name)
	if err != nil {
		return err
	}
	s.Client = c
	if scale := c.TimeScale(); scale > 0 {
		// The workspace is the emulator running faster than the wall
		// clock (emulator:serve): the rollout waits its minutes.
		s.scaledClock = rollout.NewScaledClock(scale)
		s.Printf("   the workspace is the emulator at time scale %g: the rollout's waits follow its clock (a minute takes %s)\n",
			scale, time.Duration(float64(time.Minute)*scale).Round(time.Millisecond))
	}
	cfg, err := s.LoadConfig(name, c.User)
	if err != nil {
		return err
	}
	s.Config = cfg
	s.Journal = s.journal(c, cfg)
	s.Registry = openRegistry(cfg, c, s, s.Opts.Timeouts.Registration)
	s.Printf("   %s as %s (%s auth): model %s, endpoint %s\n", c.Host, c.User, c.AuthType, cfg.Model, cfg.Endpoint.Name)
	return nil
}

// CheckCatalog refuses a target whose model the deploying principal could
// not create, before anything changes: the bundle deploy would otherwise
// fail half way. In Unity Catalog the target's catalog and schema must
// exist and be usable; the workspace registry skips.
type CheckCatalog struct{}

// Name implements Stage.
func (CheckCatalog) Name() string { return "catalog" }

// Run implements Stage.
func (CheckCatalog) Run(ctx context.Context, s *State) error { return s.Registry.CheckCatalog(ctx) }

// envGetenv reads <NAME>_<ENV> before <NAME>, so one process can hold
// credentials for two workspaces (a promotion source and its target).
func (s *State) envGetenv(env string) func(string) string {
	base := s.Opts.Client.Getenv
	if base == nil {
		base = s.Getenv
	}
	suffix := "_" + strings.ToUpper(env)
	return func(name string) string {
		if v := base(name + suffix); v != "" {
			return v
		}
		return base(name)
	}
}

// connect returns the client for an environment's workspace, made once.
func (s *State) connect(ctx context.Context, env string) (*workspace.Client, error) {
	if c, ok := s.clients[env]; ok {
		return c, nil
	}
	cfg, err := s.LoadConfig(env, "")
	if err != nil {
		return nil, err
	}
	// Environments in the same workspace share one client.
	for e, c := range s.clients {
		if other, ok := s.configs[e]; ok && workspace.SameHost(other.Target.Host, cfg.Target.Host) {
			s.clients[env] = c
			return c, nil
		}
	}
	opts := s.Opts.Client
	opts.Getenv = s.envGetenv(env)
	if opts.OnRetry == nil {
		opts.OnRetry = func(line string) { s.Printf("   %s: %s\n", env, line) }
	}
	c, err := workspace.Connect(ctx, cfg.Target, opts)
	if err != nil {
		return nil, err
	}
	s.clients[env] = c
	if _, err := s.LoadConfig(env, c.User); err != nil {
		return nil, err
	}
	return c, nil
}

// journal is the release journal of cfg's environment, read with c.
func (s *State) journal(c *workspace.Client, cfg *EnvConfig) *release.Journal {
	env := cfg.Env.Name()
	return &release.Journal{
		Env: env, Store: workspace.Files{API: c.W.Workspace}, Dir: cfg.JournalDir,
		Mirror: release.DirStore{Dir: filepath.Join(s.Artifacts, "releases")}, MirrorDir: env,
		Now: s.Clock.Now,
	}
}

// LoadSource finds what a promotion starts from: the source environment's
// record of this release, which must be verified, and its model version;
// and the route (copy within one workspace, training in this one when the
// source is another workspace).
type LoadSource struct{}

// Name implements Stage.
func (LoadSource) Name() string { return "source" }

// Run implements Stage.
func (LoadSource) Run(ctx context.Context, s *State) error {
	env := s.Config.Env
	from, ok := env.PromotesFrom()
	if !ok {
		return Skip("%s is not promoted from another environment", env)
	}
	rec, mv, route, err := s.findSource(ctx, from)
	if err != nil {
		return err
	}
	s.Source, s.SourceVersion, s.Route = rec, mv, route
	verified := ""
	if rec.Verify != nil {
		verified = " at " + rec.Verify.At.Format(time.RFC3339)
	}
	s.Printf("   %s: %s v%s of %s, %s%s (record %s)\n", from, rec.Release, mv.Version, mv.Name, rec.Outcome, verified, rec.ID)
	if route == RouteTrain {
		s.Printf("   %s\n", crossReason(env, s.Release.Tag))
	}
	return nil
}

// findSource reads the source environment's journal for this release
// (with the source's credentials) and chooses the route.
func (s *State) findSource(ctx context.Context, from string) (*release.Record, *ml.ModelVersion, string, error) {
	c, err := s.connect(ctx, from)
	if err != nil {
		return nil, nil, "", fmt.Errorf("reading %s's release records needs %s's workspace (set DATABRICKS_HOST_%s and its credentials when it is another workspace): %w",
			from, from, strings.ToUpper(from), err)
	}
	route, err := s.Registry.Route(ctx, from, c)
	if err != nil {
		return nil, nil, "", err
	}
	cfg, err := s.LoadConfig(from, c.User)
	if err != nil {
		return nil, nil, "", err
	}
	j := s.journal(c, cfg)
	tag := s.Release.Tag
	// Newest first, reading only as far back as the decision needs.
	ids, err := j.IDs(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	picker := &sourcePicker{tag: tag}
	for i := len(ids) - 1; i >= 0 && !picker.done; i-- {
		r, err := j.Get(ctx, ids[i])
		if err != nil {
			return nil, nil, "", err
		}
		picker.offer(r)
	}
	rec := picker.result()
	if rec == nil {
		return nil, nil, "", fmt.Errorf("%s has no release record of %s: run deploy:%s and verify:%s for %s first", from, tag, from, from, tag)
	}
	if !rec.Good() {
		why := ""
		if rec.Verify != nil && !rec.Verify.Passed {
			why = " (verification failed)"
		}
		return nil, nil, "", fmt.Errorf("%s's latest record of %s (%s) is %s%s: %s promotes only a verified release; run verify:%s (and fix what fails)",
			from, tag, rec.ID, rec.Outcome, why, s.Config.Env, from)
	}
	if rec.SHA != s.Release.SHA {
		return nil, nil, "", fmt.Errorf("%s deployed %s from commit %s, but HEAD is %s: the tag moved; re-run the release from deploy:%s",
			from, tag, release.ShortSHA(rec.SHA), release.ShortSHA(s.Release.SHA), from)
	}
	if rec.Model == nil || rec.Model.Version == "" {
		return nil, nil, "", fmt.Errorf("%s's record %s of %s names no model version", from, rec.ID, tag)
	}
	mv, err := s.Registry.SourceVersion(ctx, from, c, rec)
	if err != nil {
		return nil, nil, "", err
	}
	return rec, mv, route, nil
}

// sourcePicker chooses the record a promotion trusts, offered records
// newest first: the newest record of the release. A newer deploy that is
// not verified yet but serves the same model version as an older verified
// one (a re-deploy that changed nothing) does not hide the verification; a
// failed one does.
type sourcePicker struct {
	tag    string
	latest *release.Record
	found  *release.Record
	done   bool
}

func (p *sourcePicker) offer(r *release.Record) {
	if p.done || r.Kind != release.KindDeploy || r.Release != p.tag {
		return
	}
	if p.latest == nil {
		p.latest = r
		if r.Good() || r.Outcome != release.OutcomeDeployed || r.Model == nil {
			p.found, p.done = r, true
		}
		return
	}
	if r.Good() && r.Model != nil && r.Model.Version == p.latest.Model.Version && r.Model.Name == p.latest.Model.Name {
		p.found, p.done = r, true
	}
}

func (p *sourcePicker) result() *release.Record {
	if p.found != nil {
		return p.found
	}
	return p.latest
}

// pickSource runs the picker over records in journal order (oldest first).
func pickSource(recs []*release.Record, tag string) *release.Record {
	p := &sourcePicker{tag: tag}
	for i := len(recs) - 1; i >= 0 && !p.done; i-- {
		p.offer(recs[i])
	}
	return p.result()
}

// AcquireLock takes the environment's deploy lock; it is released when the
// flow ends.
type AcquireLock struct{}

// Name implements Stage.
func (AcquireLock) Name() string { return "lock" }

// Run implements Stage.
func (AcquireLock) Run(ctx context.Context, s *State) error {
	l := s.Locker()
	held, err := l.Acquire(ctx, s.lockIdentity())
	if err != nil {
		return err
	}
	s.Lock = held
	s.Defer(func(ctx context.Context) {
		if err := held.Release(ctx); err != nil {
			s.Printf("   warning: %v\n", err)
		}
	})
	s.Printf("   %s held by %s until %s\n", s.Config.Env, held.Holder, held.Expiry.Format(time.RFC3339))
	return nil
}

// Locker returns the environment's lock (needs Connect).
func (s *State) Locker() *release.Locker {
	return &release.Locker{
		Env: s.Config.Env.Name(), Store: workspace.Files{API: s.Client.W.Workspace}, Path: s.Config.LockFile,
		Now:      s.Clock.Now,
		Logf:     func(f string, a ...any) { s.Printf("   "+f+"\n", a...) },
		TakeOver: s.takeOver,
	}
}

func (s *State) lockIdentity() release.Lock {
	machine, pid := s.process()
	return release.Lock{Holder: s.holder(), Release: s.Release.Tag, Machine: machine, PID: pid, CIRun: s.ciRun()}
}

// process is this machine and process, unless a test pretends otherwise.
func (s *State) process() (string, int) {
	machine, _ := os.Hostname()
	pid := os.Getpid()
	if s.Opts.Process.Machine != "" {
		machine = s.Opts.Process.Machine
	}
	if s.Opts.Process.PID != 0 {
		pid = s.Opts.Process.PID
	}
	return machine, pid
}

// holder names who deploys: the CI run, or user@machine.
func (s *State) holder() string {
	if run := s.ciRunURL(); run != "" {
		return "GitHub Actions " + run
	}
	machine, _ := s.process()
	user := "unknown"
	if s.Client != nil {
		user = s.Client.User
	}
	return user + "@" + machine
}

func (s *State) ciRun() string {
	if s.Getenv("GITHUB_ACTIONS") != "true" || s.Getenv("GITHUB_RUN_ID") == "" {
		return ""
	}
	return s.Getenv("GITHUB_REPOSITORY") + "/" + s.Getenv("GITHUB_RUN_ID")
}

func (s *State) ciRunURL() string {
	run := s.ciRun()
	if run == "" {
		return ""
	}
	server := s.Getenv("GITHUB_SERVER_URL")
	if server == "" {
		server = "https://github.com"
	}
	return server + "/" + s.Getenv("GITHUB_REPOSITORY") + "/actions/runs/" + s.Getenv("GITHUB_RUN_ID")
}

// takeOver declares a live lock dead when its holder is provably gone: an
// earlier attempt of this CI run, or a process on this machine that no
// longer exists (a deploy killed with its lock held).
func (s *State) takeOver(cur release.Lock) (string, bool) {
	if run := s.ciRun(); run != "" && cur.CIRun == run {
		return "held by an earlier attempt of this CI run", true
	}
	machine, pid := s.process()
	if cur.Machine != "" && cur.Machine == machine && cur.PID != 0 && cur.PID != pid && !processAlive(cur.PID) {
		return fmt.Sprintf("its process %d on %s is gone", cur.PID, machine), true
	}
	return "", false
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
