package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/cd/cdtest"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// ship tags HEAD with tag (after a new commit unless it is the first
// release) and takes it through envs, deploy and verify each.
func (w *world) ship(tag string, envs ...string) {
	w.t.Helper()
	if len(w.repo.Git("tag", "--list")) > 0 {
		w.repo.Commit("release " + tag)
	}
	w.repo.Tag(tag)
	w.release(envs...)
}

var allEnvs = []string{cd.EnvDev, cd.EnvStaging, cd.EnvProd}

// toStaging is v1.0.0 live in prod and v1.1.0 verified in staging: the
// next deploy:prod is a canary of prod v2 against v1.
func (w *world) toStaging() {
	w.t.Helper()
	w.ship("v1.0.0", allEnvs...)
	w.ship("v1.1.0", cd.EnvDev, cd.EnvStaging)
}

// prodModel is the prod model's name.
func (w *world) prodModel() string { return w.config(cd.EnvProd).Model }

// badVersion makes a prod model version misbehave from now on.
func (w *world) badVersion(version string, b emulator.Behavior) {
	w.server(cd.EnvProd).SetVersionBehavior(w.prodModel(), version, b)
}

// prodRun is a deploy:prod run that records every config the rollout sends.
type prodRun struct {
	*cdtest.Run
	mu   sync.Mutex
	sent []map[string]int
}

func (w *world) prodRun(mods ...func(*cd.Options)) *prodRun {
	r := &prodRun{Run: w.run(cd.EnvProd, mods...)}
	r.Opts.Canary.OnUpdate = func(cfg serving.EndpointCoreConfigInput) {
		tr := map[string]int{}
		for _, rt := range cfg.TrafficConfig.Routes {
			tr[rt.ServedEntityName] += rt.TrafficPercentage
		}
		r.mu.Lock()
		r.sent = append(r.sent, tr)
		r.mu.Unlock()
	}
	return r
}

func (r *prodRun) deploy(ctx context.Context) error { return cd.Deploy(ctx, r.Opts) }

func (r *prodRun) updates() []map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]int(nil), r.sent...)
}

// assertStableRouted checks the safety invariant over the configs a run
// sent: each sums to 100 and routes traffic to stable, except the one
// promotion that hands the candidate everything.
func (w *world) assertStableRouted(sent []map[string]int, stable, cand string) {
	w.t.Helper()
	for i, tr := range sent {
		sum := 0
		for _, p := range tr {
			sum += p
		}
		assert.Equal(w.t, 100, sum, "config %d: %v", i+1, tr)
		promotion := tr[cand] == 100
		assert.True(w.t, promotion || tr[stable] > 0, "config %d routes %v: no traffic to the stable %s", i+1, tr, stable)
	}
}

// checkpoint is the canary checkpoint a record keeps.
func checkpoint(t *testing.T, rec *release.Record) rollout.Checkpoint {
	t.Helper()
	var cp rollout.Checkpoint
	ok, err := rec.Attachment(rollout.CanaryAttachment, &cp)
	require.NoError(t, err)
	require.True(t, ok, "record %s has a canary checkpoint", rec.ID)
	return cp
}

// prodRecords are prod's records of one kind.
func (w *world) prodRecords(kind release.Kind) []*release.Record {
	var out []*release.Record
	for _, r := range w.records(cd.EnvProd) {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

// watcher is a client that keeps calling an endpoint and counts answers
// that were not 200, to show an endpoint served throughout.
type watcher struct {
	stop   context.CancelFunc
	done   chan struct{}
	ok     atomic.Int64
	failed atomic.Int64
	mu     sync.Mutex
	errs   []string
}

func (w *world) watch(env string) *watcher {
	w.t.Helper()
	cfg := w.server(env).Config()
	cfg.RateLimitPerSecond = 100000
	cl, err := databricks.NewWorkspaceClient(cfg)
	require.NoError(w.t, err)
	ctx, stop := context.WithCancel(context.Background())
	wt := &watcher{stop: stop, done: make(chan struct{})}
	name := w.config(env).Endpoint.Name
	go func() {
		defer close(wt.done)
		for ctx.Err() == nil {
			_, err := cl.ServingEndpoints.Query(ctx, serving.QueryEndpointInput{Name: name, DataframeRecords: []any{
				map[string]any{"thread_id": "watcher", "message": "what are the support hours"},
			}})
			switch {
			case err == nil:
				wt.ok.Add(1)
			case ctx.Err() == nil:
				wt.failed.Add(1)
				wt.mu.Lock()
				if len(wt.errs) < 5 {
					wt.errs = append(wt.errs, err.Error())
				}
				wt.mu.Unlock()
			}
			time.Sleep(time.Millisecond)
		}
	}()
	w.t.Cleanup(wt.close)
	return wt
}

func (wt *watcher) close() {
	wt.stop()
	<-wt.done
}

// assertServed checks the endpoint answered every request while watched.
func (wt *watcher) assertServed(t *testing.T) {
	t.Helper()
	wt.close()
	wt.mu.Lock()
	defer wt.mu.Unlock()
	assert.Positive(t, wt.ok.Load(), "the watcher got answers")
	assert.Zero(t, wt.failed.Load(), "requests failed while watched: %v", wt.errs)
}

// hook is a webhook on 127.0.0.1 that keeps every JSON body it receives.
type hook struct {
	mu     sync.Mutex
	bodies []map[string]any
	status int
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	h.mu.Lock()
	h.bodies = append(h.bodies, body)
	status := h.status
	h.mu.Unlock()
	if status == 0 {
		status = http.StatusOK
	}
	if status >= 300 {
		http.Error(w, "invalid_token", status)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"status":"success","message":"Event processed","dedup_key":"x"}`))
}

func (h *hook) received() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.bodies...)
}

// isLocked reports a refusal because another run holds the lock.
func isLocked(err error) bool { return errors.Is(err, release.ErrLocked) }

// filesOf is the workspace as a release.Store.
func filesOf(w *world) workspace.Files { return workspace.Files{API: w.w.Workspace} }
