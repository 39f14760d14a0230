package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// BenchOptions configure BenchCI.
type BenchOptions struct {
	Out        io.Writer // progress; default os.Stdout
	WarmRounds int       // all-cached runs to take the median of (default 5)
	NoWarmup   bool      // skip the unmeasured first run
}

// BenchResult is what `mage bench:ci` measures, in seconds.
type BenchResult struct {
	When  time.Time `json:"when"`
	CPUs  int       `json:"cpus"`
	Go    string    `json:"go"`
	Tasks int       `json:"tasks"`

	// Cold: every check really runs (-nocache); tools, databases and the
	// Go build cache are warm, as on a developer's machine.
	ColdParallel float64 `json:"cold_parallel_s"` // default -j (one job per CPU)
	ColdSerial   float64 `json:"cold_serial_s"`   // -j 1
	Ratio        float64 `json:"parallel_serial_ratio"`
	// TaskSum is the sum of the task times in the serial run: the work.
	TaskSum float64 `json:"serial_task_sum_s"`

	// Warm: `go run mage.go ci` with every result cached, mage start-up
	// included; the median of WarmRounds.
	Warm       float64 `json:"warm_s"`
	WarmCached int     `json:"warm_cached_tasks"` // how many were cached
	// WarmExcluded are checks left out of the warm runs because they
	// failed in the cold runs: a failure is never cached, so it would
	// run again every time and measure the check, not the cache.
	WarmExcluded []string `json:"warm_excluded,omitempty"`
	// MageStartup is `go run mage.go -l`, the floor under any target.
	MageStartup float64 `json:"mage_startup_s"`
	// RunnerWarm is the runner's own time in an all-cached run: file
	// hashing, tool version probes, scheduling, the summary.
	RunnerWarm float64 `json:"runner_warm_s"`
	// RunnerCold is wall minus task time in the serial cold run: what the
	// runner adds around real work.
	RunnerCold float64 `json:"runner_cold_s"`

	Failed []string `json:"failed_checks,omitempty"` // checks that failed in the cold runs

	// PerCheck is each check's time in the two cold runs: a check that
	// already uses every core (go test, staticcheck) gains nothing from
	// running beside another.
	PerCheck []BenchCheck `json:"per_check"`
}

// BenchCheck is one check's time in the cold runs.
type BenchCheck struct {
	Name     string  `json:"name"`
	Parallel float64 `json:"parallel_s"`
	Serial   float64 `json:"serial_s"`
}

// BenchCI measures `mage ci` on the repository at root and writes
// artifacts/bench/ci.json and ci.md. It runs the real command lines a
// developer types, so mage's own start-up is part of the figures.
func BenchCI(ctx context.Context, root string, o BenchOptions) (*BenchResult, error) {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.WarmRounds <= 0 {
		o.WarmRounds = 5
	}
	res := &BenchResult{When: time.Now().UTC(), CPUs: runtime.NumCPU(), Go: runtime.Version(), Tasks: len(All(Config{Root: root}))}
	mage := func(args ...string) (time.Duration, *pipeline.Report, error) {
		isCI := len(args) > 0 && args[0] == "ci"
		if isCI {
			// A stale report must never pass for this run's.
			if err := os.Remove(ReportPath(root)); err != nil && !os.IsNotExist(err) {
				return 0, nil, err
			}
		}
		var out bytes.Buffer
		start := time.Now()
		err := toolchain.Run(ctx, toolchain.Cmd{Name: "go", Args: append([]string{"run", "mage.go"}, args...), Dir: root,
			Env: []string{"NO_COLOR=1", "GITHUB_ACTIONS=", "GITHUB_STEP_SUMMARY="}, Stdout: &out, Stderr: &out})
		wall := time.Since(start)
		if ctx.Err() != nil {
			return wall, nil, ctx.Err()
		}
		if !isCI {
			if err != nil {
				return wall, nil, fmt.Errorf("go run mage.go %s: %w: %s", strings.Join(args, " "), err, tail(out.String(), 10))
			}
			return wall, nil, nil
		}
		// Failing checks exit non-zero with a report; no report means
		// mage itself did not run (a target that does not compile).
		rep, rerr := readReport(ReportPath(root))
		if rerr != nil {
			return wall, nil, fmt.Errorf("go run mage.go %s wrote no report (%v): %s", strings.Join(args, " "), err, tail(out.String(), 15))
		}
		return wall, rep, nil
	}
	step := func(what string) { fmt.Fprintf(o.Out, "bench: %s...\n", what) }

	if !o.NoWarmup {
		step("warm-up run (installs tools, fills tool caches; not measured)")
		if _, _, err := mage("ci", "-nocache"); err != nil {
			return nil, err
		}
	}
	step("cold run, default parallelism (-nocache)")
	wall, rep, err := mage("ci", "-nocache")
	if err != nil {
		return nil, err
	}
	res.ColdParallel = wall.Seconds()
	res.Failed = failedTasks(rep)
	parallel := rep

	step("cold run, -j 1 (-nocache)")
	wall, rep, err = mage("ci", "-nocache", "-j=1")
	if err != nil {
		return nil, err
	}
	res.ColdSerial = wall.Seconds()
	if rep.Jobs != 1 {
		return nil, fmt.Errorf("bench: the serial run used %d jobs", rep.Jobs)
	}
	for _, r := range rep.Results {
		res.TaskSum += r.Seconds
		c := BenchCheck{Name: r.Name, Serial: r.Seconds}
		if p, ok := parallel.Result(r.Name); ok {
			c.Parallel = p.Seconds
		}
		res.PerCheck = append(res.PerCheck, c)
	}
	res.RunnerCold = rep.Seconds - res.TaskSum
	if res.ColdSerial > 0 {
		res.Ratio = res.ColdParallel / res.ColdSerial
	}

	warmArgs := []string{"ci"}
	if failed := failedTasks(rep); len(failed) > 0 {
		res.WarmExcluded = failed
		var keep []string
		for _, r := range rep.Results {
			if r.Status != pipeline.StatusFail && r.Status != pipeline.StatusBlocked {
				keep = append(keep, r.Name)
			}
		}
		warmArgs = append(warmArgs, "-only="+strings.Join(keep, ","))
	}
	step(fmt.Sprintf("warm all-cached runs (%d)", o.WarmRounds))
	var warm, runner []float64
	for i := 0; i < o.WarmRounds; i++ {
		wall, rep, err := mage(warmArgs...)
		if err != nil {
			return nil, err
		}
		warm = append(warm, wall.Seconds())
		runner = append(runner, rep.Seconds)
		res.WarmCached = countStatus(rep, pipeline.StatusCached)
	}
	res.Warm, res.RunnerWarm = median(warm), median(runner)

	step("mage start-up (go run mage.go -l)")
	var startup []float64
	for i := 0; i < 3; i++ {
		wall, _, err := mage("-l")
		if err != nil {
			return nil, err
		}
		startup = append(startup, wall.Seconds())
	}
	res.MageStartup = median(startup)

	if err := writeBench(filepath.Join(root, "artifacts", "bench"), res); err != nil {
		return nil, err
	}
	return res, nil
}

func readReport(path string) (*pipeline.Report, error) {
	// #nosec G304 -- a ci report this benchmark just had mage ci write under artifacts/
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r pipeline.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return &r, nil
}

func failedTasks(r *pipeline.Report) []string {
	var out []string
	for _, res := range r.Results {
		if res.Status == pipeline.StatusFail || res.Status == pipeline.StatusBlocked {
			out = append(out, res.Name)
		}
	}
	return out
}

func countStatus(r *pipeline.Report, s pipeline.Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// Markdown renders the result as the table the README quotes.
func (r *BenchResult) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| measure (`go run mage.go ci`, %d checks, %d CPUs, %s) | seconds |\n|---|---:|\n", r.Tasks, r.CPUs, r.Go)
	fmt.Fprintf(&b, "| cold, default parallelism (`-nocache`) | %.1f |\n", r.ColdParallel)
	fmt.Fprintf(&b, "| cold, serial (`-nocache -j=1`) | %.1f |\n", r.ColdSerial)
	fmt.Fprintf(&b, "| parallel / serial wall ratio | %.2f |\n", r.Ratio)
	fmt.Fprintf(&b, "| sum of check times (serial run) | %.1f |\n", r.TaskSum)
	fmt.Fprintf(&b, "| warm, all cached (%d of %d checks cached), mage start-up included | %.2f |\n", r.WarmCached, r.Tasks-len(r.WarmExcluded), r.Warm)
	fmt.Fprintf(&b, "| mage start-up alone (`go run mage.go -l`) | %.2f |\n", r.MageStartup)
	fmt.Fprintf(&b, "| runner overhead, all-cached run (hashing, probes, summary) | %.3f |\n", r.RunnerWarm)
	fmt.Fprintf(&b, "| runner overhead, serial cold run (wall - check time) | %.3f |\n", r.RunnerCold)
	if len(r.Failed) > 0 {
		fmt.Fprintf(&b, "\nChecks that failed in the cold parallel run: %s.\n", strings.Join(r.Failed, ", "))
	}
	if len(r.WarmExcluded) > 0 {
		fmt.Fprintf(&b, "Left out of the warm runs (failures are never cached): %s.\n", strings.Join(r.WarmExcluded, ", "))
	}
	if len(r.PerCheck) > 0 {
		fmt.Fprintf(&b, "\n| check | cold, parallel (s) | cold, -j 1 (s) |\n|---|---:|---:|\n")
		for _, c := range r.PerCheck {
			fmt.Fprintf(&b, "| %s | %.1f | %.1f |\n", c.Name, c.Parallel, c.Serial)
		}
	}
	return b.String()
}

func writeBench(dir string, r *BenchResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ci.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "ci.md"), []byte(r.Markdown()), 0o644)
}
