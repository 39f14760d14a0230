package e2e

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/cd/cdtest"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// world is one release repository and its workspaces: one emulator for
// every environment (newWorld), or one per environment (newWorlds).
type world struct {
	t    *testing.T
	ctx  context.Context
	srv  *emulator.Server // the one workspace; nil in a world of three
	ws   *emulator.Workspaces
	repo *cdtest.Repo
	w    *databricks.WorkspaceClient // the one workspace's client
	cfgs map[string]*cd.EnvConfig
	wcs  map[string]*databricks.WorkspaceClient
}

func newWorld(t *testing.T, opts ...func(*emulator.Options)) *world {
	t.Helper()
	srv := cdtest.Workspace(t, append([]func(*emulator.Options){cdtest.LegacyRegistry}, opts...)...)
	w, err := srv.WorkspaceClient()
	require.NoError(t, err)
	return &world{t: t, ctx: context.Background(), srv: srv, repo: cdtest.NewWorkspaceRegistryRepo(t, srv.URL()), w: w,
		cfgs: map[string]*cd.EnvConfig{}, wcs: map[string]*databricks.WorkspaceClient{}}
}

// newWorlds is dev, staging and prod in three workspaces of one emulator
// process, each deploy given every environment's credentials
// (DATABRICKS_HOST_<ENV>, DATABRICKS_TOKEN_<ENV>).
func newWorlds(t *testing.T, opts ...func(*emulator.Options)) *world {
	t.Helper()
	ws := cdtest.Workspaces(t, append([]func(*emulator.Options){cdtest.LegacyRegistry}, opts...)...)
	return &world{t: t, ctx: context.Background(), ws: ws, repo: cdtest.NewWorkspaceRegistryRepoIn(t, ws),
		cfgs: map[string]*cd.EnvConfig{}, wcs: map[string]*databricks.WorkspaceClient{}}
}

// server is env's workspace.
func (w *world) server(env string) *emulator.Server {
	if w.ws != nil {
		return w.ws.Get(env)
	}
	return w.srv
}

// client is a client of env's workspace.
func (w *world) client(env string) *databricks.WorkspaceClient {
	w.t.Helper()
	if w.ws == nil {
		return w.w
	}
	if c, ok := w.wcs[env]; ok {
		return c
	}
	c, err := w.server(env).WorkspaceClient()
	require.NoError(w.t, err)
	w.wcs[env] = c
	return c
}

// run returns a run of env with the test defaults, adjusted by mods.
func (w *world) run(env string, mods ...func(*cd.Options)) *cdtest.Run {
	var r *cdtest.Run
	if w.ws != nil {
		r = cdtest.NewRunIn(w.t, w.repo, w.ws, env)
	} else {
		r = cdtest.NewRun(w.t, w.repo, w.srv, env)
	}
	for _, m := range mods {
		m(&r.Opts)
	}
	return r
}

func (w *world) deploy(env string, mods ...func(*cd.Options)) (*cdtest.Run, error) {
	r := w.run(env, mods...)
	return r, cd.Deploy(w.ctx, r.Opts)
}

func (w *world) verify(env string, mods ...func(*cd.Options)) (*cdtest.Run, error) {
	r := w.run(env, mods...)
	return r, cd.RunVerify(w.ctx, r.Opts)
}

func (w *world) validate(env string, mods ...func(*cd.Options)) (*cdtest.Run, error) {
	r := w.run(env, mods...)
	return r, cd.RunValidate(w.ctx, r.Opts)
}

// validated runs the validation gate of env for the tag on HEAD, failing
// the test if it does not pass.
func (w *world) validated(env string) {
	w.t.Helper()
	r, err := w.validate(env)
	require.NoError(w.t, err, "validate %s\n%s", env, r.Output())
}

// release deploys and verifies the tag on HEAD through envs, failing the
// test on any error. Production is validated first when the bundle
// declares the gate, as the CD workflow does.
func (w *world) release(envs ...string) {
	w.t.Helper()
	for _, env := range envs {
		if env == cd.EnvProd && w.config(env).Bundle.Validation != nil {
			w.validated(env)
		}
		r, err := w.deploy(env)
		require.NoError(w.t, err, "deploy:%s\n%s", env, r.Output())
		r, err = w.verify(env)
		require.NoError(w.t, err, "verify:%s\n%s", env, r.Output())
	}
}

// config is an environment's bundle target as the deploying user sees it.
func (w *world) config(env string) *cd.EnvConfig {
	w.t.Helper()
	if c, ok := w.cfgs[env]; ok {
		return c
	}
	s, err := cd.NewState(w.ctx, w.run(env).Opts)
	require.NoError(w.t, err)
	c, err := s.LoadConfig(env, w.server(env).UserName())
	require.NoError(w.t, err)
	w.cfgs[env] = c
	return c
}

func (w *world) journal(env string) *release.Journal {
	return &release.Journal{Env: env, Store: workspace.Files{API: w.client(env).Workspace}, Dir: w.config(env).JournalDir}
}

func (w *world) records(env string) []*release.Record {
	w.t.Helper()
	recs, err := w.journal(env).List(w.ctx)
	require.NoError(w.t, err)
	return recs
}

func (w *world) latest(env string) *release.Record {
	w.t.Helper()
	recs := w.records(env)
	require.NotEmpty(w.t, recs, "%s has no release record", env)
	return recs[len(recs)-1]
}

// versions lists a model's versions, oldest first.
func (w *world) versions(env string) []ml.ModelVersion {
	w.t.Helper()
	model := w.config(env).Model
	all, err := w.client(env).ModelRegistry.SearchModelVersionsAll(w.ctx, ml.SearchModelVersionsRequest{Filter: "name='" + model + "'"})
	require.NoError(w.t, err)
	sort.Slice(all, func(i, j int) bool { return all[i].Version < all[j].Version })
	return all
}

func tags(mv ml.ModelVersion) map[string]string {
	m := map[string]string{}
	for _, t := range mv.Tags {
		m[t.Key] = t.Value
	}
	return m
}

func (w *world) endpoint(env string) (serving.ServingEndpointDetailed, bool) {
	return w.server(env).Endpoint(w.config(env).Endpoint.Name)
}

// traffic is the endpoint's split by entity name, e.g. {"m-1": 100}.
func (w *world) traffic(env string) map[string]int {
	return w.server(env).Traffic(w.config(env).Endpoint.Name)
}

func (w *world) served(env, version string) string {
	return w.config(env).ServedName(version)
}

// noMutation asserts the workspace saw no request that changes state.
func (w *world) noMutation(why string) {
	w.t.Helper()
	for _, r := range w.srv.MutatingRequests() {
		assert.Fail(w.t, "unexpected mutation", "%s: %s %s (%s) status %d", why, r.Method, r.Path, r.Op, r.Status)
	}
}

// noRequests asserts no API request at all reached the workspace.
func (w *world) noRequests(why string) {
	w.t.Helper()
	for _, r := range w.srv.Requests() {
		if strings.HasPrefix(r.Path, "/api/") {
			assert.Fail(w.t, "unexpected request", "%s: %s %s", why, r.Method, r.Path)
		}
	}
}

// opsCount counts requests by op.
func (w *world) opsCount(prefix string) int { return len(w.srv.RequestsFor(prefix)) }

func withEnv(kv ...string) func(*cd.Options) {
	return func(o *cd.Options) {
		base := o.Getenv
		extra := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			extra[kv[i]] = kv[i+1]
		}
		o.Getenv = func(k string) string {
			if v, ok := extra[k]; ok {
				return v
			}
			return base(k)
		}
		o.Client.Getenv = nil
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
