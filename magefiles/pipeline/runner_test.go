package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cputime"
	"github.com/hitl-mlops/interrupt-agent/magefiles/redact"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// testOptions runs in a temp root with plain output captured in out.
func testOptions(t *testing.T, out *bytes.Buffer) Options {
	t.Helper()
	root := t.TempDir()
	return Options{Root: root, Out: out, Jobs: 4, Getenv: func(string) string { return "" }}
}

func ok(context.Context, *T) error { return nil }

func fail(msg string) func(context.Context, *T) error {
	return func(context.Context, *T) error { return errors.New(msg) }
}

func statuses(rep *Report) map[string]Status {
	m := map[string]Status{}
	for _, r := range rep.Results {
		m[r.Name] = r.Status
	}
	return m
}

func TestGraphValidation(t *testing.T) {
	tests := []struct {
		name    string
		tasks   []Task
		wantErr string
	}{
		{"unknown dependency", []Task{{Name: "a", Deps: []string{"nope"}, Run: ok}}, `task "a" depends on unknown task "nope"`},
		{"cycle", []Task{{Name: "a", Deps: []string{"b"}, Run: ok}, {Name: "b", Deps: []string{"a"}, Run: ok}}, "dependency cycle: a -> b -> a"},
		{"duplicate", []Task{{Name: "a", Run: ok}, {Name: "a", Run: ok}}, `task "a" is defined twice`},
		{"no run", []Task{{Name: "a"}}, `task "a" has no Run function`},
		{"no name", []Task{{Run: ok}}, "task 0 has no name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := Run(context.Background(), tt.tasks, testOptions(t, &out))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Empty(t, out.String(), "nothing may run when the graph is invalid")
		})
	}
}

func TestDependenciesRunFirst(t *testing.T) {
	var mu sync.Mutex
	var order []string
	record := func(name string) func(context.Context, *T) error {
		return func(context.Context, *T) error {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, name)
			return nil
		}
	}
	tasks := []Task{
		{Name: "bundle", Deps: []string{"security", "secrets"}, Run: record("bundle")},
		{Name: "security", Run: record("security")},
		{Name: "secrets", Deps: []string{"security"}, Run: record("secrets")},
	}
	var out bytes.Buffer
	rep, err := Run(context.Background(), tasks, testOptions(t, &out))
	require.NoError(t, err)
	assert.Equal(t, []string{"security", "secrets", "bundle"}, order)
	assert.True(t, rep.Passed)
}

func TestFailingDependencyBlocksDependents(t *testing.T) {
	var ranBundle atomic.Bool
	tasks := []Task{
		{Name: "secrets", Run: fail("AWS key in src/app.py:3")},
		{Name: "bundle", Deps: []string{"secrets"}, Run: func(context.Context, *T) error { ranBundle.Store(true); return nil }},
		{Name: "deploy", Deps: []string{"bundle"}, Run: ok},
		{Name: "lint", Run: ok},
	}
	var out bytes.Buffer
	rep, err := Run(context.Background(), tasks, testOptions(t, &out))

	var fe *FailedError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, []string{"secrets", "bundle", "deploy"}, fe.Tasks)
	assert.False(t, ranBundle.Load())
	assert.Equal(t, map[string]Status{"secrets": StatusFail, "bundle": StatusBlocked, "deploy": StatusBlocked, "lint": StatusPass}, statuses(rep))
	bundle, _ := rep.Result("bundle")
	assert.Equal(t, "dependency secrets fail", bundle.Reason)
	deploy, _ := rep.Result("deploy")
	assert.Equal(t, "dependency bundle blocked", deploy.Reason)
	assert.Contains(t, out.String(), "secrets: AWS key in src/app.py:3")
}

func TestKeepGoingVersusFailFast(t *testing.T) {
	tasks := func(started *atomic.Int32) []Task {
		slow := func(ctx context.Context, _ *T) error {
			started.Add(1)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
				return nil
			}
		}
		return []Task{
			{Name: "a-fails", Run: fail("boom")},
			{Name: "b", Deps: []string{"a-fails-later"}, Run: slow},
			{Name: "a-fails-later", Run: func(context.Context, *T) error { return nil }},
			{Name: "c", Deps: []string{"a-fails"}, Run: slow},
			{Name: "d", Run: slow},
		}
	}
	t.Run("keep going runs every independent check", func(t *testing.T) {
		var started atomic.Int32
		var out bytes.Buffer
		opts := testOptions(t, &out)
		opts.Jobs = 1
		rep, err := Run(context.Background(), tasks(&started), opts)
		require.Error(t, err)
		st := statuses(rep)
		assert.Equal(t, StatusFail, st["a-fails"])
		assert.Equal(t, StatusPass, st["b"])
		assert.Equal(t, StatusBlocked, st["c"])
		assert.Equal(t, StatusPass, st["d"])
	})
	t.Run("fail fast cancels what has not started", func(t *testing.T) {
		var started atomic.Int32
		var out bytes.Buffer
		opts := testOptions(t, &out)
		opts.Jobs = 1
		opts.FailFast = true
		rep, err := Run(context.Background(), tasks(&started), opts)
		require.Error(t, err)
		st := statuses(rep)
		assert.Equal(t, StatusFail, st["a-fails"])
		assert.Equal(t, StatusCanceled, st["d"])
		assert.Equal(t, int32(0), started.Load(), "no slow task may start after the failure with -j 1")
	})
}

func TestParallelismIsBounded(t *testing.T) {
	var running, peak atomic.Int32
	task := func(context.Context, *T) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		running.Add(-1)
		return nil
	}
	var tasks []Task
	for i := 0; i < 12; i++ {
		tasks = append(tasks, Task{Name: fmt.Sprintf("t%02d", i), Run: task})
	}
	for _, jobs := range []int{1, 3} {
		t.Run(fmt.Sprintf("jobs=%d", jobs), func(t *testing.T) {
			running.Store(0)
			peak.Store(0)
			var out bytes.Buffer
			opts := testOptions(t, &out)
			opts.Jobs = jobs
			_, err := Run(context.Background(), tasks, opts)
			require.NoError(t, err)
			assert.LessOrEqual(t, peak.Load(), int32(jobs))
			if jobs > 1 {
				assert.Greater(t, peak.Load(), int32(1), "tasks should overlap")
			}
		})
	}
}

func TestOutputOfParallelTasksIsNotInterleaved(t *testing.T) {
	var tasks []Task
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("task%d", i)
		tasks = append(tasks, Task{Name: name, Run: func(_ context.Context, tt *T) error {
			for j := 0; j < 50; j++ {
				tt.Printf("%s line %d", name, j)
				if j%10 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			return nil
		}})
	}
	var out bytes.Buffer
	opts := testOptions(t, &out)
	opts.Jobs = 6
	_, err := Run(context.Background(), tasks, opts)
	require.NoError(t, err)

	// Every task's 50 lines must appear as one contiguous run under its header.
	lines := strings.Split(out.String(), "\n")
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("task%d", i)
		first := -1
		for n, l := range lines {
			if strings.HasPrefix(l, name+" line ") {
				first = n
				break
			}
		}
		require.NotEqual(t, -1, first, name)
		assert.True(t, strings.HasPrefix(lines[first-1], "── "+name+" "), "header precedes block: %q", lines[first-1])
		for j := 0; j < 50; j++ {
			assert.Equal(t, fmt.Sprintf("%s line %d", name, j), lines[first+j])
		}
	}
}

func TestVerboseStreamsWithPrefix(t *testing.T) {
	var out bytes.Buffer
	opts := testOptions(t, &out)
	opts.Verbose = true
	_, err := Run(context.Background(), []Task{{Name: "lint", Run: func(_ context.Context, tt *T) error {
		tt.Printf("checking 3 files")
		return nil
	}}}, opts)
	require.NoError(t, err)
	assert.Contains(t, out.String(), "[lint] checking 3 files\n")
	assert.Equal(t, 1, strings.Count(out.String(), "checking 3 files"), "streamed output is not printed again")
}

func TestSkipPanicAndSecrets(t *testing.T) {
	tasks := []Task{
		{Name: "matrix-3.9", Run: func(context.Context, *T) error { return Skip("python3.9 not found") }},
		{Name: "broken", Run: func(context.Context, *T) error { panic("nil map") }},
		{Name: "leaky", Run: func(_ context.Context, tt *T) error {
			tt.Printf("token is dapi-secret-value")
			return errors.New("auth failed with dapi-secret-value")
		}},
	}
	var out bytes.Buffer
	opts := testOptions(t, &out)
	opts.Redactor = redact.New("dapi-secret-value")
	rep, err := Run(context.Background(), tasks, opts)
	require.Error(t, err)
	st := statuses(rep)
	assert.Equal(t, StatusSkipped, st["matrix-3.9"])
	r, _ := rep.Result("matrix-3.9")
	assert.Equal(t, "python3.9 not found", r.Reason)
	assert.Equal(t, StatusFail, st["broken"])
	r, _ = rep.Result("broken")
	assert.Contains(t, r.Error, "panic: nil map")
	assert.NotContains(t, out.String(), "dapi-secret-value")
	assert.Contains(t, out.String(), "token is ***")

	reportPath := filepath.Join(t.TempDir(), "ci-report.json")
	require.NoError(t, rep.WriteJSON(reportPath))
	b, err := os.ReadFile(reportPath)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "dapi-secret-value")
}

func TestCancellationKillsChildProcesses(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	tasks := []Task{{Name: "slow-tool", Run: func(ctx context.Context, tt *T) error {
		return toolchain.Run(ctx, toolchain.Cmd{Name: "sh", Args: []string{"-c", "echo $$ > " + pidFile + "; exec sleep 300"}, Stdout: tt.Out()})
	}}}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var out bytes.Buffer
	rep, err := Run(ctx, tasks, testOptions(t, &out))
	require.Error(t, err)
	r, _ := rep.Result("slow-tool")
	assert.Equal(t, StatusCanceled, r.Status)
	assert.Less(t, r.Duration, 60*time.Second, "the sleep must have been killed, not waited for")
}

func TestSummaryAndJSONReport(t *testing.T) {
	tasks := []Task{
		{Name: "gofmt", Run: func(_ context.Context, tt *T) error {
			tt.Finding(Finding{File: "magefiles/ci.go", Line: 3, Message: "file is not gofmt-formatted", Rule: "gofmt"})
			tt.Summary("1 file needs formatting")
			return errors.New("1 file needs formatting")
		}},
		{Name: "pytest", Run: func(_ context.Context, tt *T) error { tt.Summary("12 passed"); return nil }},
		{Name: "bundle", Deps: []string{"gofmt"}, Run: ok},
	}
	var out bytes.Buffer
	opts := testOptions(t, &out)
	rep, err := Run(context.Background(), tasks, opts)
	require.Error(t, err)

	s := out.String()
	assert.Regexp(t, `(?m)^CHECK\s+STATUS\s+TIME\s+RESULT$`, s)
	assert.Regexp(t, `(?m)^gofmt\s+fail\s+\S+\s+1 file needs formatting$`, s)
	assert.Regexp(t, `(?m)^pytest\s+pass\s+\S+\s+12 passed$`, s)
	assert.Regexp(t, `(?m)^bundle\s+blocked\s+dependency gofmt fail$`, s, "the status word in STATUS, the reason in RESULT")
	assert.Contains(t, s, "FAILED in")

	path := filepath.Join(opts.Root, "artifacts", "ci-report.json")
	require.NoError(t, rep.WriteJSON(path))
	var decoded struct {
		Passed  bool `json:"passed"`
		Results []struct {
			Name     string    `json:"name"`
			Status   string    `json:"status"`
			Summary  string    `json:"summary"`
			Findings []Finding `json:"findings"`
		} `json:"results"`
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &decoded))
	assert.False(t, decoded.Passed)
	require.Len(t, decoded.Results, 3)
	assert.Equal(t, "gofmt", decoded.Results[0].Name)
	assert.Equal(t, "fail", decoded.Results[0].Status)
	assert.Equal(t, "magefiles/ci.go", decoded.Results[0].Findings[0].File)
}

func TestGitHubActionsMode(t *testing.T) {
	tasks := []Task{
		{Name: "lint", Run: func(_ context.Context, tt *T) error {
			tt.Printf("flake8 output")
			tt.Finding(Finding{File: "src/a.py", Line: 7, Col: 2, Rule: "E501", Message: "line too long, 120 > 100"})
			tt.Finding(Finding{File: "src/b.py", Line: 1, Severity: "warning", Message: "unused import"})
			return errors.New("2 findings")
		}},
		{Name: "tests", Run: fail("exit status 1")},
	}
	var out bytes.Buffer
	opts := testOptions(t, &out)
	opts.GitHub = true
	opts.StepSummary = filepath.Join(opts.Root, "summary.md")
	_, err := Run(context.Background(), tasks, opts)
	require.Error(t, err)

	s := out.String()
	assert.Contains(t, s, "::group::lint ✗ fail")
	assert.Contains(t, s, "flake8 output\n")
	assert.Contains(t, s, "::endgroup::")
	assert.Contains(t, s, "::error file=src/a.py,line=7,col=2,title=lint%3A E501::line too long, 120 > 100")
	assert.Contains(t, s, "::warning file=src/b.py,line=1,title=lint::unused import")
	assert.Contains(t, s, "::error title=tests::tests: exit status 1")

	md, err := os.ReadFile(opts.StepSummary)
	require.NoError(t, err)
	assert.Contains(t, string(md), "| check | status | time | result |")
	assert.Contains(t, string(md), "| lint | ❌ fail |")
}

func TestSelectAddsDependencies(t *testing.T) {
	tasks := []Task{{Name: "security", Run: ok}, {Name: "secrets", Run: ok}, {Name: "bundle", Deps: []string{"security", "secrets"}, Run: ok}, {Name: "lint", Run: ok}}
	got, err := Select(tasks, "bundle")
	require.NoError(t, err)
	assert.Equal(t, []string{"bundle", "secrets", "security"}, TaskNames(got))

	_, err = Select(tasks, "secret")
	require.EqualError(t, err, `unknown check "secret" (known: bundle, lint, secrets, security)`)
}

// A check's CPU is that of the commands it ran, their children included;
// a check that only waits reports next to none, whatever its wall time.
func TestResultsCountTheCPUOfTheCommandsATaskRan(t *testing.T) {
	spin := "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"
	tasks := []Task{
		{Name: "busy", Run: func(ctx context.Context, tt *T) error {
			// The loop runs in a grandchild: a go test's test binary is one.
			return toolchain.Run(ctx, toolchain.Cmd{Name: "sh", Args: []string{"-c", "sh -c '" + spin + "'"}, Stdout: tt.Out()})
		}},
		{Name: "waiting", Run: func(ctx context.Context, tt *T) error {
			return toolchain.Run(ctx, toolchain.Cmd{Name: "sleep", Args: []string{"0.3"}, Stdout: tt.Out()})
		}},
	}
	var out bytes.Buffer
	rep, err := Run(context.Background(), tasks, testOptions(t, &out))
	require.NoError(t, err)
	busy, _ := rep.Result("busy")
	waiting, _ := rep.Result("waiting")
	assert.Greater(t, busy.CPUSeconds, 0.05, "the grandchild's loop is counted")
	assert.Less(t, waiting.CPUSeconds, waiting.Seconds/2, "a sleep's wall time is not CPU")
	assert.Greater(t, busy.CPUSeconds, waiting.CPUSeconds)
}

// A task that waits runs beside the jobs: with two jobs, the busy tasks
// still use both while it runs (it ends only after them); with one job
// everything is serial, the waiting task in its declared place.
func TestWaitingTaskTakesNoJob(t *testing.T) {
	var running, busy, busyDone, peakBusy, peakAll atomic.Int32
	raise := func(p *atomic.Int32, n int32) {
		for {
			cur := p.Load()
			if n <= cur || p.CompareAndSwap(cur, n) {
				return
			}
		}
	}
	busyTask := func(context.Context, *T) error {
		raise(&peakAll, running.Add(1))
		raise(&peakBusy, busy.Add(1))
		time.Sleep(300 * time.Millisecond) // long enough for the other job's task to start
		busy.Add(-1)
		busyDone.Add(1)
		running.Add(-1)
		return nil
	}
	var tasks []Task
	for i := 0; i < 4; i++ {
		tasks = append(tasks, Task{Name: fmt.Sprintf("busy%d", i), Run: busyTask})
	}
	tasks = append(tasks, Task{Name: "served", Waits: true, Run: func(ctx context.Context, _ *T) error {
		raise(&peakAll, running.Add(1))
		defer running.Add(-1)
		deadline := time.Now().Add(10 * time.Second)
		for busyDone.Load() < 4 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		return nil
	}})
	for _, tc := range []struct {
		jobs              int
		wantAll, wantBusy int32
	}{{jobs: 2, wantAll: 3, wantBusy: 2}, {jobs: 1, wantAll: 1, wantBusy: 1}} {
		t.Run(fmt.Sprintf("jobs=%d", tc.jobs), func(t *testing.T) {
			for _, c := range []*atomic.Int32{&running, &busy, &busyDone, &peakBusy, &peakAll} {
				c.Store(0)
			}
			var out bytes.Buffer
			opts := testOptions(t, &out)
			opts.Jobs = tc.jobs
			rep, err := Run(context.Background(), tasks, opts)
			require.NoError(t, err)
			assert.Len(t, rep.Results, 5)
			assert.Equal(t, tc.wantBusy, peakBusy.Load(), "busy tasks use every job and never more")
			assert.Equal(t, tc.wantAll, peakAll.Load())
		})
	}
}

func TestTasksSideBySideGetTheirShareOfTheCores(t *testing.T) {
	// a and b start together; c waits for both, then runs alone; served
	// waits beside the jobs. In the chain each task has the machine to
	// itself: what is left to start waits for it.
	nap := func(context.Context, *T) error { time.Sleep(200 * time.Millisecond); return nil }
	tasks := []Task{
		{Name: "a", Run: nap},
		{Name: "b", Run: nap},
		{Name: "c", Deps: []string{"a", "b"}, Run: nap},
		{Name: "served", Waits: true, Run: nap},
	}
	chain := []Task{
		{Name: "a", Run: nap},
		{Name: "b", Deps: []string{"a"}, Run: nap},
		{Name: "c", Deps: []string{"b"}, Run: nap},
	}
	tests := []struct {
		name       string
		tasks      []Task
		cpus, jobs int
		want       map[string]int
	}{
		{"two jobs on two cores", tasks, 2, 2, map[string]int{"a": 1, "b": 1, "c": 0, "served": 1}},
		{"two jobs on eight cores", tasks, 8, 2, map[string]int{"a": 4, "b": 4, "c": 0, "served": 4}},
		{"more jobs than cores", tasks, 2, 4, map[string]int{"a": 1, "b": 1, "c": 0, "served": 1}},
		{"-j=1: every core to the one job", tasks, 2, 1, map[string]int{"a": 0, "b": 0, "c": 0, "served": 0}},
		{"a chain: each runs alone", chain, 2, 2, map[string]int{"a": 0, "b": 0, "c": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got sync.Map
			var tasks []Task
			for _, task := range tt.tasks {
				run := task.Run
				task.Run = func(ctx context.Context, tc *T) error {
					got.Store(task.Name, cputime.Cores(ctx))
					return run(ctx, tc)
				}
				tasks = append(tasks, task)
			}
			var out bytes.Buffer
			opts := testOptions(t, &out)
			opts.CPUs, opts.Jobs = tt.cpus, tt.jobs
			rep, err := Run(context.Background(), tasks, opts)
			require.NoError(t, err)
			for name, want := range tt.want {
				cores, ok := got.Load(name)
				require.True(t, ok, name)
				assert.Equal(t, want, cores, "%s's share", name)
				res, _ := rep.Result(name)
				assert.Equal(t, want, res.Cores, "%s's share in the report", name)
			}
		})
	}
}
