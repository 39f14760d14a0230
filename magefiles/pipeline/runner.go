package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/sourcegraph/conc"
	"github.com/sourcegraph/conc/panics"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cputime"
	"github.com/hitl-mlops/interrupt-agent/magefiles/redact"
)

// Status is a task's outcome.
type Status string

// The outcomes. Only StatusFail (and a blocked or canceled task, which
// follows from a failure or an interrupt) make a run fail.
const (
	StatusPass     Status = "pass"
	StatusFail     Status = "fail"
	StatusSkipped  Status = "skipped"
	StatusCached   Status = "cached"
	StatusBlocked  Status = "blocked"
	StatusCanceled Status = "canceled"
)

// Result is one task's outcome.
type Result struct {
	Name     string        `json:"name"`
	Status   Status        `json:"status"`
	Reason   string        `json:"reason,omitempty"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
	// CPUSeconds is the user and system time of the commands the task
	// ran (package cputime); work done inside mage is not counted.
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
	// Cores is the task's share of the cores when it ran beside others
	// (cputime.WithCores); 0: all of them.
	Cores    int       `json:"cores,omitempty"`
	Summary  string    `json:"summary,omitempty"`
	Findings []Finding `json:"findings,omitempty"`
	Error    string    `json:"error,omitempty"`
	Output   string    `json:"-"`
}

// failed reports whether this result makes the run fail.
func (r Result) failed() bool {
	return r.Status == StatusFail || r.Status == StatusBlocked || r.Status == StatusCanceled
}

// Report is a whole run.
type Report struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
	Jobs     int           `json:"jobs"`
	Passed   bool          `json:"passed"`
	Results  []Result      `json:"results"`
}

// Result returns the named task's result.
func (r *Report) Result(name string) (Result, bool) {
	for _, res := range r.Results {
		if res.Name == name {
			return res, true
		}
	}
	return Result{}, false
}

// FailedError is returned by Run when a task failed; it names them all.
type FailedError struct{ Tasks []string }

func (e *FailedError) Error() string {
	return fmt.Sprintf("%d check(s) failed: %s", len(e.Tasks), strings.Join(e.Tasks, ", "))
}

// Options configure a run. The zero value runs with one job per CPU,
// keep-going, cache in <Root>/.cache/ci, plain output to stdout.
type Options struct {
	Root      string // repository root the task inputs are relative to
	Artifacts string // report directory (default <Root>/artifacts)
	CacheDir  string // default <Root>/.cache/ci

	Jobs     int  // parallel tasks; <= 0 means runtime.NumCPU()
	CPUs     int  // cores the jobs share; <= 0 means runtime.NumCPU()
	FailFast bool // cancel the rest after the first failure
	NoCache  bool // run everything, ignore and do not consult the cache
	Verbose  bool // stream task output live, prefixed by the task name

	Out         io.Writer // default os.Stdout
	Color       bool
	Progress    bool   // live one-line progress (a TTY)
	GitHub      bool   // GitHub Actions markup: groups, annotations
	StepSummary string // file to append a markdown summary to

	Redactor *redact.Redactor
	Getenv   func(string) string
}

// OptionsFromEnv fills the output options from the process: colors and
// progress only on a terminal without NO_COLOR, GitHub Actions markup when
// GITHUB_ACTIONS is set, and secret values from the environment redacted.
func OptionsFromEnv(root string) Options {
	tty := isTerminal(os.Stdout)
	gha := os.Getenv("GITHUB_ACTIONS") == "true"
	return Options{
		Root:        root,
		Out:         os.Stdout,
		Color:       tty && os.Getenv("NO_COLOR") == "",
		Progress:    tty && !gha,
		GitHub:      gha,
		StepSummary: os.Getenv("GITHUB_STEP_SUMMARY"),
		Redactor:    redact.FromEnv(),
		Getenv:      os.Getenv,
	}
}

func (o *Options) defaults() {
	if o.Root == "" {
		o.Root = "."
	}
	if o.Artifacts == "" {
		o.Artifacts = filepath.Join(o.Root, "artifacts")
	}
	if o.CacheDir == "" {
		o.CacheDir = filepath.Join(o.Root, ".cache", "ci")
	}
	if o.CPUs <= 0 {
		o.CPUs = runtime.NumCPU()
	}
	if o.Jobs <= 0 {
		o.Jobs = o.CPUs
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
}

// Run executes the task graph and returns the report. The error is a
// *FailedError when any task failed, or a configuration error (unknown
// dependency, cycle) before anything ran.
func Run(ctx context.Context, tasks []Task, opts Options) (*Report, error) {
	opts.defaults()
	ordered, err := validate(tasks)
	if err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	pr := newPrinter(opts, ordered)
	c := &cache{dir: opts.CacheDir, files: newFileIndex(opts.Root)}
	report := &Report{Started: time.Now(), Jobs: opts.Jobs}

	hist := readHistory(opts.CacheDir)
	pr.start()
	results := schedule(runCtx, cancel, ordered, hist.startOrder(ordered, opts.Jobs), opts, func(ctx context.Context, t Task) Result {
		pr.started(t.Name)
		return runOne(ctx, t, c, opts, pr)
	}, pr.finished)
	pr.stop()
	if hist.record(results) {
		if err := hist.write(opts.CacheDir); err != nil {
			fmt.Fprintf(opts.Out, "warning: record task times: %v\n", err)
		}
	}

	report.Duration = time.Since(report.Started)
	report.Seconds = report.Duration.Seconds()
	report.Results = results
	report.Passed = true
	var failed []string
	for i := range report.Results {
		report.Results[i].Seconds = report.Results[i].Duration.Seconds()
		if report.Results[i].failed() {
			report.Passed = false
			failed = append(failed, report.Results[i].Name)
		}
	}
	pr.summary(report)
	if opts.StepSummary != "" {
		if err := appendStepSummary(opts.StepSummary, report); err != nil {
			fmt.Fprintf(opts.Out, "warning: write step summary: %v\n", err)
		}
	}
	if len(failed) > 0 {
		return report, &FailedError{Tasks: failed}
	}
	return report, nil
}

// schedule runs tasks as their dependencies finish, at most opts.Jobs at a
// time, considering ready tasks for a free job in startOrder (a list of
// indexes into ordered; history.startOrder keeps declaration order for
// -j=1, a predictable serial run). With more than one job a task that
// Waits takes no job and starts as soon as it is ready. done is called
// once per task, in completion order.
func schedule(ctx context.Context, cancel context.CancelFunc, ordered []Task, startOrder []int, opts Options,
	run func(context.Context, Task) Result, done func(Result),
) []Result {
	index := make(map[string]int, len(ordered))
	for i, t := range ordered {
		index[t.Name] = i
	}
	results := make([]Result, len(ordered))
	finished := make([]bool, len(ordered))
	started := make([]bool, len(ordered))
	type completion struct {
		i int
		r Result
	}
	completions := make(chan completion)
	running, remaining := 0, len(ordered)

	depsDone := func(t Task) bool {
		for _, d := range t.Deps {
			if !finished[index[d]] {
				return false
			}
		}
		return true
	}
	settle := func(i int, r Result) {
		results[i], finished[i] = r, true
		remaining--
		done(r)
	}

	floats := func(t Task) bool { return t.Waits && opts.Jobs > 1 }
	// A task that shares the machine gets its share of the cores
	// (package cputime says why); one that will run alone to the end,
	// with no job running beside it and none left to start, gets them
	// all, and so does every task of a -j=1 run.
	share := max(opts.CPUs/opts.Jobs, 1)
	after := dependents(ordered, index)
	cores := func(i int) int {
		if opts.Jobs == 1 {
			return 0
		}
		if running > 0 || floats(ordered[i]) {
			return share
		}
		for j, t := range ordered {
			if j != i && !started[j] && !floats(t) && !after[i][j] {
				return share
			}
		}
		return 0
	}

	var wg conc.WaitGroup
	for remaining > 0 {
		// Resolve everything that can be decided without running, then
		// start ready tasks while there are free slots.
		for progress := true; progress; {
			progress = false
			for _, i := range startOrder {
				t := ordered[i]
				if started[i] || !depsDone(t) {
					continue
				}
				if r, stop := blockedBy(t, results, index); stop {
					started[i] = true
					settle(i, r)
					progress = true
					continue
				}
				if ctx.Err() != nil {
					started[i] = true
					settle(i, Result{Name: t.Name, Status: StatusCanceled, Reason: "not started: run canceled"})
					progress = true
					continue
				}
				if takesJob := !floats(t); !takesJob || running < opts.Jobs {
					taskCtx := cputime.WithCores(ctx, cores(i))
					started[i] = true
					if takesJob {
						running++
					}
					wg.Go(func() { completions <- completion{i, run(taskCtx, t)} })
				}
			}
		}
		if remaining == 0 {
			break
		}
		c := <-completions
		if !floats(ordered[c.i]) {
			running--
		}
		settle(c.i, c.r)
		if c.r.Status == StatusFail && opts.FailFast {
			cancel()
		}
	}
	wg.Wait()
	return results
}

// blockedBy decides whether t must not run because a dependency did not
// succeed; the result names the dependency.
func blockedBy(t Task, results []Result, index map[string]int) (Result, bool) {
	for _, d := range t.Deps {
		dep := results[index[d]]
		switch dep.Status {
		case StatusFail, StatusBlocked:
			return Result{Name: t.Name, Status: StatusBlocked, Reason: fmt.Sprintf("dependency %s %s", d, dep.Status)}, true
		case StatusCanceled:
			return Result{Name: t.Name, Status: StatusCanceled, Reason: fmt.Sprintf("dependency %s canceled", d)}, true
		}
	}
	return Result{}, false
}

// runOne runs a task (or reuses its cached pass) and captures its output.
func runOne(ctx context.Context, t Task, c *cache, opts Options, pr *printer) (res Result) {
	start := time.Now()
	res = Result{Name: t.Name}
	defer func() { res.Duration = time.Since(start) }()

	// The key is computed even with NoCache: a forced run still records
	// its pass for the next ordinary run.
	key, cacheable, err := c.key(ctx, t, opts.Getenv)
	if err != nil {
		res.Status, res.Error = StatusFail, fmt.Sprintf("%s: compute cache key: %v", t.Name, err)
		return res
	}
	if cacheable && !opts.NoCache {
		if e, hit := c.lookup(t.Name, key); hit {
			res.Status, res.Summary = StatusCached, e.Summary
			res.Reason = "inputs unchanged since last pass"
			return res
		}
	}

	var buf bytes.Buffer
	var out io.Writer = &buf
	if opts.Verbose {
		out = io.MultiWriter(&buf, pr.live(t.Name))
	}
	tt := &T{name: t.Name, root: opts.Root, artifacts: opts.Artifacts, out: &syncWriter{w: out}, cache: c, getenv: opts.Getenv, noCache: opts.NoCache}

	var cpu cputime.Meter
	defer func() { res.CPUSeconds, res.Cores = cpu.Total().Seconds(), cputime.Cores(ctx) }()
	runCtx := cputime.With(ctx, &cpu)
	var runErr error
	var catcher panics.Catcher
	catcher.Try(func() { runErr = t.Run(runCtx, tt) })
	if rec := catcher.Recovered(); rec != nil {
		runErr = fmt.Errorf("panic: %v", rec.Value)
	}

	findings, summary := tt.snapshot()
	res.Findings, res.Summary = redactFindings(opts.Redactor, findings), opts.Redactor.String(summary)
	res.Output = opts.Redactor.String(buf.String())

	switch reason, skipped := IsSkip(runErr); {
	case runErr == nil:
		res.Status = StatusPass
		if cacheable {
			if err := c.store(t.Name, cacheEntry{Key: key, Summary: res.Summary, Findings: len(findings)}); err != nil {
				fmt.Fprintf(&buf, "warning: cache %s: %v\n", t.Name, err)
			}
		}
	case skipped:
		res.Status, res.Reason = StatusSkipped, opts.Redactor.String(reason)
		c.forget(t.Name)
	case errors.Is(runErr, context.Canceled) && ctx.Err() != nil:
		res.Status, res.Reason = StatusCanceled, "interrupted"
		c.forget(t.Name)
	default:
		res.Status = StatusFail
		res.Error = opts.Redactor.String(fmt.Sprintf("%s: %v", t.Name, runErr))
		c.forget(t.Name)
	}
	return res
}

func redactFindings(r *redact.Redactor, fs []Finding) []Finding {
	for i := range fs {
		fs[i].Message = r.String(fs[i].Message)
	}
	return fs
}

// TaskNames lists the names of tasks, sorted.
func TaskNames(tasks []Task) []string {
	names := make([]string, 0, len(tasks))
	for _, t := range tasks {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	return names
}
