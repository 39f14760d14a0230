package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/cd/cdtest"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

// benchTimeScale makes the emulator's state machines take 1% of the real
// service's time: a 5-minute endpoint update takes 3 s, a training run
// (20 s pending + 2 min running) 1.4 s, a registration 0.3 s.
const benchTimeScale = 0.01

// stageRow is one stage of one run in the benchmark report.
type stageRow struct {
	Registry string         `json:"registry"` // unity-catalog or workspace
	Run      string         `json:"run"`      // deploy:dev, verify:dev, ...
	Stage    string         `json:"stage"`
	Status   string         `json:"status"`
	WallMS   float64        `json:"wall_ms"`
	APICalls int            `json:"api_calls"`
	ByMethod map[string]int `json:"by_method"`
	Mutating int            `json:"mutating"`
	Queries  int            `json:"queries"` // endpoint invocations (verify traffic)
	Waits    []cd.WaitStat  `json:"waits,omitempty"`
	start    time.Time
	end      time.Time
}

// flowTotals are one registry's flow in the benchmark report.
type flowTotals struct {
	Registry string  `json:"registry"`
	Seconds  float64 `json:"seconds"`
	APICalls int     `json:"api_calls"`
	Polls    int     `json:"status_polls"`
	Waits    int     `json:"waits"`
}

// benchRegistries are the two ways the bundle can register its model: the
// project's bundle (Unity Catalog, legacy registry disabled) and the
// workspace registry bundle (cdtest.NewWorkspaceRegistryRepo).
var benchRegistries = []struct {
	name string
	opts []func(*emulator.Options)
	repo func(testing.TB, string) *cdtest.Repo
}{
	{cd.RegistryWorkspace, []func(*emulator.Options){cdtest.LegacyRegistry}, cdtest.NewWorkspaceRegistryRepo},
	{cd.RegistryUnityCatalog, nil, cdtest.NewRepo},
}

// BenchmarkReleaseFlow runs deploy and verify through dev, staging and prod
// against the emulator with scaled time and the SDK's defaults (waiter
// backoff, 15 requests/s client limit), once per registry (the workspace
// registry, then Unity Catalog) in one run, and reports wall time, API
// calls and status polls per stage (artifacts/bench/cd-flow.{json,txt}).
//
//	go test ./tests/e2e -run '^$' -bench ReleaseFlow -benchtime 1x
func BenchmarkReleaseFlow(b *testing.B) {
	var rows []*stageRow
	var totals []flowTotals
	for i := 0; i < b.N; i++ {
		rows, totals = nil, nil
		for _, reg := range benchRegistries {
			b.StopTimer()
			opts := append([]func(*emulator.Options){func(o *emulator.Options) { o.TimeScale = benchTimeScale }}, reg.opts...)
			srv := cdtest.Workspace(b, opts...)
			repo := reg.repo(b, srv.URL())
			repo.Tag("v1.0.0")
			var flow []*stageRow
			b.StartTimer()
			start := time.Now()
			for _, env := range cd.Envs {
				kinds := []string{"deploy", "verify"}
				if env == cd.EnvProd && reg.name == cd.RegistryUnityCatalog {
					kinds = append([]string{"validate"}, kinds...) // the project's bundle declares the gate
				}
				for _, kind := range kinds {
					flow = append(flow, benchRun(b, srv, repo, env, kind)...)
				}
			}
			total := time.Since(start)
			b.StopTimer()
			attribute(flow, srv.Requests())
			t := flowTotals{Registry: reg.name, Seconds: total.Seconds()}
			for _, r := range flow {
				r.Registry = reg.name
				t.APICalls += r.APICalls
				for _, w := range r.Waits {
					t.Polls += w.Polls
					t.Waits++
				}
			}
			rows, totals = append(rows, flow...), append(totals, t)
		}
	}
	for _, t := range totals {
		unit := "ws"
		if t.Registry == cd.RegistryUnityCatalog {
			unit = "uc"
		}
		b.ReportMetric(t.Seconds, unit+"-flow-s")
		b.ReportMetric(float64(t.APICalls), unit+"-api-calls")
		b.ReportMetric(float64(t.Polls), unit+"-status-polls")
	}
	writeBenchReport(b, rows, totals)
}

func benchRun(b *testing.B, srv *emulator.Server, repo *cdtest.Repo, env, kind string) []*stageRow {
	run := cdtest.NewRun(b, repo, srv, env)
	run.Opts.Poll = cd.DefaultPoll
	run.Opts.Client.RateLimitPerSecond = 0 // the SDK's default
	run.Opts.Out = &strings.Builder{}
	run.Opts.Vars = map[string]string{"load_duration": "2s", "load_concurrency": "2"}
	var mu sync.Mutex
	var rows []*stageRow
	var cur *stageRow
	name := kind + ":" + env
	run.Opts.Observe = func(e cd.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Kind {
		case "stage-start":
			cur = &stageRow{Run: name, Stage: e.Stage, start: e.Time, ByMethod: map[string]int{}}
			rows = append(rows, cur)
		case "stage-end":
			cur.end, cur.Status, cur.WallMS = e.Time, string(e.Status), float64(e.Duration)/float64(time.Millisecond)
		case "wait":
			cur.Waits = append(cur.Waits, *e.Wait)
		}
	}
	var err error
	switch kind {
	case "deploy":
		err = cd.Deploy(context.Background(), run.Opts)
	case "validate":
		err = cd.RunValidate(context.Background(), run.Opts)
	default:
		err = cd.RunVerify(context.Background(), run.Opts)
	}
	require.NoError(b, err, "%s\n%s", name, run.Opts.Out)
	return rows
}

// attribute counts the emulator's requests into the stage that made them.
func attribute(rows []*stageRow, reqs []emulator.RequestRecord) {
	for _, r := range reqs {
		for _, row := range rows {
			if r.Time.Before(row.start) || r.Time.After(row.end) {
				continue
			}
			if strings.HasSuffix(r.Path, "/invocations") {
				row.Queries++
				break
			}
			row.APICalls++
			row.ByMethod[r.Method]++
			if r.Mutating {
				row.Mutating++
			}
			break
		}
	}
}

func writeBenchReport(b *testing.B, rows []*stageRow, totals []flowTotals) {
	root, err := project.Root()
	require.NoError(b, err)
	dir := filepath.Join(root, "artifacts", "bench")
	require.NoError(b, os.MkdirAll(dir, 0o755))
	raw, err := json.MarshalIndent(map[string]any{"time_scale": benchTimeScale, "totals": totals, "stages": rows}, "", "  ")
	require.NoError(b, err)
	require.NoError(b, os.WriteFile(filepath.Join(dir, "cd-flow.json"), raw, 0o600))

	var sb strings.Builder
	fmt.Fprintf(&sb, "release flow dev -> prod against the emulator, time scale %.2f, per registry\n\n", benchTimeScale)
	tw := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "registry\trun\tstage\twall\tAPI calls\tGET\tPOST/PUT/PATCH\tmutating\tqueries\twaits (GET polls)")
	for _, r := range rows {
		var ws []string
		for _, w := range r.Waits {
			ws = append(ws, fmt.Sprintf("%s: %d", w.What, w.Polls))
		}
		other := r.APICalls - r.ByMethod["GET"]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0fms\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Registry, r.Run, r.Stage, r.WallMS, r.APICalls, r.ByMethod["GET"], other, r.Mutating, r.Queries, strings.Join(ws, "; "))
	}
	_ = tw.Flush()
	fmt.Fprintln(&sb)
	for _, t := range totals {
		fmt.Fprintf(&sb, "%-14s %6.1fs %4d API calls, %d status polls in %d waits\n", t.Registry, t.Seconds, t.APICalls, t.Polls, t.Waits)
	}
	if len(totals) == 2 && totals[0].APICalls > 0 {
		fmt.Fprintf(&sb, "Unity Catalog / workspace registry: %.2fx the API calls, %.2fx the status polls\n",
			float64(totals[1].APICalls)/float64(totals[0].APICalls), float64(totals[1].Polls)/float64(max(totals[0].Polls, 1)))
	}
	require.NoError(b, os.WriteFile(filepath.Join(dir, "cd-flow.txt"), []byte(sb.String()), 0o600))
	b.Log("\n" + sb.String())
}
