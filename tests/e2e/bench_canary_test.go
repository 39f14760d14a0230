package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/cd/cdtest"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
)

// BenchmarkProdCanaryAbort runs deploy:prod of a candidate that fails 20%
// of its requests, at the prod analysis interval I = 60s, and reports in
// multiples of I, on the canary's clock: the candidate serving at 10%
// (READY) to the abort decision, and to stable serving 100% again (READY);
// and the requests the bad candidate served. The goal is a decision
// within 2 I and stable back within one config update after.
//
//	virtual: instant state machines, client traffic 25 req/s in virtual
//	         time: the analysis alone.
//	scaled:  the emulator and the pipeline at time scale 0.01 (the demo's),
//	         probe traffic, endpoint updates taking their service time and
//	         the SDK's waiters polling in real time.
//
//	go test ./tests/e2e -run '^$' -bench ProdCanaryAbort -benchtime 1x
func BenchmarkProdCanaryAbort(b *testing.B) {
	const interval = time.Minute
	modes := []struct {
		name  string
		scale float64
	}{{"virtual", 0}, {"scaled", 0.01}}
	for _, mode := range modes {
		b.Run(mode.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				srv := cdtest.Workspace(b, cdtest.LegacyRegistry, func(o *emulator.Options) {
					o.TimeScale = mode.scale
					if mode.scale > 0 {
						o.Durations = emulator.Durations{EndpointUpdate: 2 * time.Minute, TrafficUpdate: 10 * time.Second,
							RunPending: 10 * time.Second, RunDuration: time.Minute, ModelRegistration: 20 * time.Second}
					}
				})
				repo := cdtest.NewWorkspaceRegistryRepo(b, srv.URL())
				var clock rollout.Clock
				if mode.scale > 0 {
					clock = rollout.NewScaledClock(mode.scale)
				}
				run := func(env string) *cdtest.Run {
					r := cdtest.NewRun(b, repo, srv, env)
					r.Opts.Vars["analysis_interval"] = interval.String()
					r.Opts.Vars["min_requests"] = "20"
					if clock != nil {
						r.Opts.Clock, r.Opts.Canary.Clock, r.Opts.Canary.Probes = clock, clock, true
						r.Opts.Poll = cd.DefaultPoll
						r.Opts.Timeouts = cd.Timeouts{}
					}
					return r
				}
				ship := func(tag string, envs ...string) {
					if tag != "v1.0.0" {
						repo.Commit("release " + tag)
					}
					repo.Tag(tag)
					for _, env := range envs {
						r := run(env)
						require.NoError(b, cd.Deploy(context.Background(), r.Opts), r.Output())
						r = run(env)
						require.NoError(b, cd.RunVerify(context.Background(), r.Opts), r.Output())
					}
				}
				ship("v1.0.0", cd.Envs...)
				ship("v1.1.0", cd.EnvDev, cd.EnvStaging)
				r := run(cd.EnvProd)
				s, err := cd.NewState(context.Background(), r.Opts)
				require.NoError(b, err)
				cfg, err := s.LoadConfig(cd.EnvProd, srv.UserName())
				require.NoError(b, err)
				srv.SetVersionBehavior(cfg.Model, "2", emulator.Behavior{ErrorRate: 0.2, Latency: cdtest.ModelLatency})
				cand := cfg.ServedName("2")

				now := r.Opts.Canary.Clock.Now
				var mu sync.Mutex
				var live, decided, restored time.Time
				r.Opts.Observe = func(e cd.Event) {
					if e.Kind != "stage-end" {
						return
					}
					mu.Lock()
					defer mu.Unlock()
					switch e.Stage {
					case "canary":
						live = now()
					case "analysis":
						restored = now()
					}
				}
				r.Opts.Canary.OnUpdate = func(c serving.EndpointCoreConfigInput) {
					if len(c.ServedEntities) == 1 && c.ServedEntities[0].Name != cand {
						mu.Lock()
						decided = now()
						mu.Unlock()
					}
				}
				b.StartTimer()
				err = cd.Deploy(context.Background(), r.Opts)
				b.StopTimer()
				var ae *rollout.AbortError
				require.ErrorAs(b, err, &ae, r.Output())
				require.True(b, ae.Restored)
				bad := srv.EntityStats(cfg.Endpoint.Name)[cand].Requests
				b.ReportMetric(float64(decided.Sub(live))/float64(interval), "I-to-decision")
				b.ReportMetric(float64(restored.Sub(live))/float64(interval), "I-to-restored")
				b.ReportMetric(float64(bad), "bad-cand-req")
				b.ReportMetric(float64(ae.Updates), "updates")
				if testing.Verbose() {
					for _, l := range strings.Split(r.Output(), "\n") {
						if strings.Contains(l, "interval ") || strings.Contains(l, "decision") {
							b.Log(l)
						}
					}
				}
			}
		})
	}
}
