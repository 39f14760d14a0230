package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
	Run      string         `json:"run"` // deploy:dev, verify:dev, ...
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

// BenchmarkReleaseFlow runs deploy and verify through dev, staging and prod
// against the emulator with scaled time and the SDK's defaults (waiter
// backoff, 15 requests/s client limit), and reports wall time, API calls
// and status polls per stage (artifacts/bench/cd-flow.{json,txt}).
//
//	go test ./tests/e2e -run '^$' -bench ReleaseFlow -benchtime 1x
func BenchmarkReleaseFlow(b *testing.B) {
	var rows []*stageRow
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		srv := cdtest.Workspace(b, cdtest.LegacyRegistry, func(o *emulator.Options) { o.TimeScale = benchTimeScale })
		repo := cdtest.NewWorkspaceRegistryRepo(b, srv.URL())
		repo.Tag("v1.0.0")
		rows = nil
		b.StartTimer()
		start := time.Now()
		for _, env := range cd.Envs {
			for _, kind := range []string{"deploy", "verify"} {
				rows = append(rows, benchRun(b, srv, repo, env, kind)...)
			}
		}
		total = time.Since(start)
		b.StopTimer()
		attribute(rows, srv.Requests())
	}
	b.ReportMetric(total.Seconds(), "flow-s")
	calls, polls, waits := 0, 0, 0
	for _, r := range rows {
		calls += r.APICalls
		for _, w := range r.Waits {
			polls += w.Polls
			waits++
		}
	}
	b.ReportMetric(float64(calls), "api-calls")
	b.ReportMetric(float64(polls), "status-polls")
	b.ReportMetric(float64(waits), "waits")
	writeBenchReport(b, rows, total)
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
	if kind == "deploy" {
		err = cd.Deploy(context.Background(), run.Opts)
	} else {
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

func writeBenchReport(b *testing.B, rows []*stageRow, total time.Duration) {
	root, err := project.Root()
	require.NoError(b, err)
	dir := filepath.Join(root, "artifacts", "bench")
	require.NoError(b, os.MkdirAll(dir, 0o755))
	raw, err := json.MarshalIndent(map[string]any{"time_scale": benchTimeScale, "total_s": total.Seconds(), "stages": rows}, "", "  ")
	require.NoError(b, err)
	require.NoError(b, os.WriteFile(filepath.Join(dir, "cd-flow.json"), raw, 0o644))

	var sb strings.Builder
	fmt.Fprintf(&sb, "release flow dev -> prod against the emulator, time scale %.2f: %.1fs\n\n", benchTimeScale, total.Seconds())
	tw := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tstage\twall\tAPI calls\tGET\tPOST/PUT/PATCH\tmutating\tqueries\twaits (GET polls)")
	for _, r := range rows {
		var ws []string
		for _, w := range r.Waits {
			ws = append(ws, fmt.Sprintf("%s: %d", w.What, w.Polls))
		}
		other := r.APICalls - r.ByMethod["GET"]
		fmt.Fprintf(tw, "%s\t%s\t%.0fms\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Run, r.Stage, r.WallMS, r.APICalls, r.ByMethod["GET"], other, r.Mutating, r.Queries, strings.Join(ws, "; "))
	}
	tw.Flush()
	perRun := map[string][2]float64{}
	var order []string
	for _, r := range rows {
		if _, ok := perRun[r.Run]; !ok {
			order = append(order, r.Run)
		}
		v := perRun[r.Run]
		v[0] += r.WallMS
		v[1] += float64(r.APICalls)
		perRun[r.Run] = v
	}
	sort.SliceStable(order, func(i, j int) bool { return false })
	fmt.Fprintln(&sb)
	for _, run := range order {
		fmt.Fprintf(&sb, "%-16s %6.1fs %4.0f API calls\n", run, perRun[run][0]/1000, perRun[run][1])
	}
	require.NoError(b, os.WriteFile(filepath.Join(dir, "cd-flow.txt"), []byte(sb.String()), 0o644))
	b.Log("\n" + sb.String())
}
