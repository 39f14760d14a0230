package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/cd/cdtest"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
	"github.com/hitl-mlops/interrupt-agent/magefiles/validation"
)

// benchShadowTraffic is how many production requests prod's inference
// table holds when the gate runs: as many as the gate replays.
const benchShadowTraffic = 200

// gateBench is one run of the benchmark, as artifacts/bench/validation.json keeps it.
type gateBench struct {
	Seconds      float64 `json:"seconds"`
	Cases        int     `json:"cases"`
	Replayed     int     `json:"replayed"`
	Invocations  int     `json:"invocations"`
	Statements   int     `json:"statements"`
	OtherAPI     int     `json:"other_api_calls"`
	ModelLatency string  `json:"model_latency"`
	TimeScale    float64 `json:"time_scale"`
}

// BenchmarkValidationGate times `validate prod` against three emulated
// workspaces at time scale 1: every invocation of the challenger and the
// champion sleeps, in real time, 50 times the single-record latency the
// other tests use (a 50-record request answered record by record), and
// the statement API answers at once. The state machines are shortened to
// 1 ms so the releases before the gate are set up quickly; the gate waits
// on none of them. It asks the challenger and the champion the 347
// evaluation cases and replays 200 recorded production requests
// (artifacts/bench/validation.{json,txt}).
//
//	go test ./tests/e2e -run '^$' -bench ValidationGate -benchtime 3x
func BenchmarkValidationGate(b *testing.B) {
	short := emulator.Durations{EndpointUpdate: time.Millisecond, TrafficUpdate: time.Millisecond, RunPending: time.Millisecond, RunDuration: time.Millisecond, ModelRegistration: time.Millisecond}
	ws := cdtest.Workspaces(b, func(o *emulator.Options) { o.TimeScale, o.Durations = 1, short })
	repo := cdtest.NewRepoIn(b, ws)
	ctx := context.Background()
	run := func(env, kind string) {
		r := cdtest.NewRunIn(b, repo, ws, env)
		r.Opts.Out = &strings.Builder{}
		r.Opts.Vars = map[string]string{"load_duration": "1s", "load_concurrency": "2", "validation_warehouse_id": emulator.DefaultWarehouseID}
		var err error
		switch kind {
		case "deploy":
			err = cd.Deploy(ctx, r.Opts)
		case "verify":
			err = cd.RunVerify(ctx, r.Opts)
		default:
			err = cd.RunValidate(ctx, r.Opts)
		}
		require.NoError(b, err, "%s:%s\n%s", kind, env, r.Opts.Out)
	}
	release := func(tag string, envs ...string) {
		if tag != "v1.0.0" {
			repo.Commit("release " + tag)
		}
		repo.Tag(tag)
		for _, env := range envs {
			if env == cd.EnvProd {
				run(env, "validate")
			}
			run(env, "deploy")
			run(env, "verify")
		}
	}
	release("v1.0.0", cd.Envs...)
	prod, err := ws.Get(cd.EnvProd).WorkspaceClient()
	require.NoError(b, err)
	for i := 0; i < benchShadowTraffic; i++ {
		_, err := prod.ServingEndpoints.Query(ctx, serving.QueryEndpointInput{
			Name:             "langgraph-human-interrupt-prod",
			DataframeRecords: []any{map[string]any{"thread_id": fmt.Sprintf("user-%d", i), "message": fmt.Sprintf("please delete the draft %d I saved yesterday", i)}},
		})
		require.NoError(b, err)
	}
	release("v1.1.0", cd.EnvDev, cd.EnvStaging)
	set, err := validation.LoadSet(filepath.Join(repo.Dir, cd.EvaluationSetPath))
	require.NoError(b, err)
	// The emulator draws one latency per request; the gate sends 50
	// records a request, which a model answering record by record takes
	// 50 times as long over: the single-record latency the other tests
	// use, times 50.
	batch := emulator.Latency{Median: 50 * cdtest.ModelLatency.Median, P99: 50 * cdtest.ModelLatency.P99}
	ws.Get(cd.EnvStaging).SetVersionBehavior("staging.human_interrupt_agent.interrupt_agent", "2", emulator.Behavior{Latency: batch})
	ws.Get(cd.EnvProd).SetVersionBehavior("prod.human_interrupt_agent.interrupt_agent", "1", emulator.Behavior{Latency: batch})

	var runs []gateBench
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, env := range cd.Envs {
			ws.Get(env).ResetRequests()
		}
		start := time.Now()
		run(cd.EnvProd, "validate")
		g := gateBench{Seconds: time.Since(start).Seconds(), Cases: len(set.Cases), Replayed: benchShadowTraffic,
			ModelLatency: fmt.Sprintf("median %s, p99 %s per request of 50 records", batch.Median, batch.P99), TimeScale: 1}
		for _, env := range cd.Envs {
			for _, r := range ws.Get(env).Requests() {
				switch {
				case strings.HasSuffix(r.Path, "/invocations"):
					g.Invocations++
				case strings.HasPrefix(r.Path, "/api/2.0/sql/statements"):
					g.Statements++
				case strings.HasPrefix(r.Path, "/api/"):
					g.OtherAPI++
				}
			}
		}
		runs = append(runs, g)
	}
	b.StopTimer()
	last := runs[len(runs)-1]
	b.ReportMetric(last.Seconds, "gate-s")
	b.ReportMetric(float64(last.Invocations), "invocations")

	root, err := project.Root()
	require.NoError(b, err)
	dir := filepath.Join(root, "artifacts", "bench")
	require.NoError(b, os.MkdirAll(dir, 0o750))
	raw, err := json.MarshalIndent(runs, "", "  ")
	require.NoError(b, err)
	require.NoError(b, os.WriteFile(filepath.Join(dir, "validation.json"), raw, 0o600))
	var sb strings.Builder
	fmt.Fprintf(&sb, "validate prod at time scale 1: %d evaluation cases to challenger and champion, %d recorded requests replayed; model latency %s\n\n", last.Cases, last.Replayed, last.ModelLatency)
	for i, g := range runs {
		fmt.Fprintf(&sb, "run %d: %.2f s, %d invocations, %d statement calls, %d other API calls\n", i+1, g.Seconds, g.Invocations, g.Statements, g.OtherAPI)
	}
	require.NoError(b, os.WriteFile(filepath.Join(dir, "validation.txt"), []byte(sb.String()), 0o600))
}
