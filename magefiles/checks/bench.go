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
	WarmRounds int       // all-cached runs to take the median of (default 3)
	// Base is a commit to measure the cold run of side by side (the
	// commit before a change); empty: no comparison.
	Base string
	// Dir holds the scratch clone and the base worktree; default a
	// temporary directory, removed afterwards.
	Dir string
	// Caches is a directory holding tools/ and vulndb/ as a run leaves
	// them under .cache: the clone uses them and (a) is not measured
	// (a bench repeated for the other figures).
	Caches string
	// GoEdit and PyEdit are the files the one-line edits append to
	// (defaults: a Go package the end-to-end tests do not import, and a
	// file of the model).
	GoEdit, PyEdit string
}

// Default one-line edits: magefiles/releasenotes is imported by no
// package the end-to-end tests build; tools.py is the model's code.
const (
	defaultGoEdit = "magefiles/releasenotes/notes.go"
	defaultPyEdit = "src/human_interrupt_agent/tools.py"
)

// BenchResult is what `mage bench:ci` measures, in seconds, in one run on
// a fresh clone of HEAD:
//
//	(a) Fresh      `mage ci` in the clone: no pinned tool built, no CI cache
//	(b) Cold       `mage ci -nocache`, tools built
//	(d) Warm       `mage ci`, everything cached (median of WarmRounds)
//	(e) GoEdit     `mage ci` after a one-line edit of a Go package the
//	               end-to-end tests do not import
//	(f) PyEdit     `mage ci` after a one-line edit of a Python file
//	(c) ColdSerial (b) with -j=1, last: the longest run
//
// and BaseCold, (b) of the Base commit, run right before (b). Each figure
// is written as soon as it is measured.
type BenchResult struct {
	When   time.Time `json:"when"`
	CPUs   int       `json:"cpus"`
	Go     string    `json:"go"`
	Commit string    `json:"commit"`
	Tasks  int       `json:"tasks"`
	// Load is the 1-minute load average when the run started and ended:
	// other work on the machine slows every figure alike.
	Load []string `json:"load_avg,omitempty"`

	Fresh      float64  `json:"fresh_s"`
	Cold       float64  `json:"cold_s"`
	ColdSerial float64  `json:"cold_serial_s"`
	Ratio      float64  `json:"parallel_serial_ratio"`
	Warm       float64  `json:"warm_s"`
	WarmCached int      `json:"warm_cached_tasks"`
	GoEdit     float64  `json:"go_edit_s"`
	GoEditRan  []string `json:"go_edit_ran"`
	PyEdit     float64  `json:"py_edit_s"`
	PyEditRan  []string `json:"py_edit_ran"`

	Base      string  `json:"base,omitempty"`
	BaseCold  float64 `json:"base_cold_s,omitempty"`
	BaseRatio float64 `json:"cold_vs_base,omitempty"` // Cold / BaseCold

	// MageStartup is `go run mage.go -l`, the floor under any target.
	MageStartup float64 `json:"mage_startup_s"`

	Failed []string `json:"failed_checks,omitempty"` // checks that failed in (b)
	// Excluded are the checks left out of (d), (e) and (f) because they
	// failed in (b).
	Excluded []string `json:"excluded_after_b,omitempty"`

	PerCheck []BenchCheck `json:"per_check"`
}

// BenchCheck is one check's time in the cold runs.
type BenchCheck struct {
	Name   string  `json:"name"`
	Cold   float64 `json:"cold_s"`
	Serial float64 `json:"serial_s"`
}

// BenchCI measures `mage ci` on a fresh clone of root's HEAD and writes
// root's artifacts/bench/ci.json and ci.md. It runs the real command lines
// a developer types, so mage's own start-up is part of every figure.
// The Go build and module caches are the machine's: a fresh clone, not a
// fresh machine.
func BenchCI(ctx context.Context, root string, o BenchOptions) (*BenchResult, error) {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.WarmRounds <= 0 {
		o.WarmRounds = 3
	}
	if o.GoEdit == "" {
		o.GoEdit = defaultGoEdit
	}
	if o.PyEdit == "" {
		o.PyEdit = defaultPyEdit
	}
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "bench-ci-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	git := func(args ...string) (string, error) {
		out, err := toolchain.Output(ctx, toolchain.Cmd{Name: "git", Args: args, Dir: root})
		if err != nil {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, tail(out, 5))
		}
		return strings.TrimSpace(out), nil
	}
	head, err := git("rev-parse", "HEAD")
	if err != nil {
		return nil, err
	}
	res := &BenchResult{When: time.Now().UTC(), CPUs: runtime.NumCPU(), Commit: head, Load: []string{loadAvg()}}
	if res.Go, err = goVersion(ctx); err != nil {
		return nil, err
	}
	step := func(what string) { fmt.Fprintf(o.Out, "bench %s: %s...\n", time.Now().UTC().Format("15:04:05"), what) }
	// Every figure is written as soon as it is measured: a bench cut
	// short still leaves what it measured.
	benchDir := filepath.Join(root, "artifacts", "bench")
	record := func(what string, secs float64) error {
		fmt.Fprintf(o.Out, "bench %s: %s = %.1fs\n", time.Now().UTC().Format("15:04:05"), what, secs)
		return writeBench(benchDir, res)
	}

	clone := filepath.Join(dir, "clone")
	step("fresh clone of " + head[:12])
	if _, err := git("clone", "--quiet", "--no-hardlinks", root, clone); err != nil {
		return nil, err
	}
	if _, err := git("-C", clone, "checkout", "--quiet", "--detach", head); err != nil {
		return nil, err
	}
	res.Tasks = len(All(Config{Root: clone}))

	if o.Caches != "" {
		if err := shareCaches(o.Caches, filepath.Join(clone, ".cache")); err != nil {
			return nil, err
		}
		step("(a) not measured: the tools of " + o.Caches + "; compile the magefiles (not measured)")
		if _, _, err := benchMage(ctx, clone, "-l"); err != nil {
			return nil, err
		}
	} else {
		step("(a) fresh clone: go run mage.go ci (builds the pinned tools)")
		wall, _, err := benchMage(ctx, clone, "ci")
		if err != nil {
			return nil, err
		}
		res.Fresh = wall.Seconds()
		if err := record("(a) fresh", res.Fresh); err != nil {
			return nil, err
		}
	}

	if o.Base != "" {
		base := filepath.Join(dir, "base")
		if _, err := git("worktree", "add", "--detach", base, o.Base); err != nil {
			return nil, err
		}
		defer func() { _, _ = git("worktree", "remove", "--force", base) }()
		res.Base, _ = git("rev-parse", o.Base)
		// The base uses the tools and vulnerability index (a) built: the
		// pair compares the checks, not the tool builds.
		if err := shareCaches(filepath.Join(clone, ".cache"), filepath.Join(base, ".cache")); err != nil {
			return nil, err
		}
		step("base " + o.Base + ": compile its magefiles (not measured)")
		if _, _, err := benchMage(ctx, base, "-l"); err != nil {
			return nil, err
		}
		step("(b) of the base: go run mage.go ci -nocache")
		wall, _, err := benchMage(ctx, base, "ci", "-nocache")
		if err != nil {
			return nil, err
		}
		res.BaseCold = wall.Seconds()
		if err := record("(b) of the base", res.BaseCold); err != nil {
			return nil, err
		}
	}

	step("(b) cold: go run mage.go ci -nocache")
	wall, cold, err := benchMage(ctx, clone, "ci", "-nocache")
	if err != nil {
		return nil, err
	}
	res.Cold = wall.Seconds()
	res.Failed = failedTasks(cold)
	if res.BaseCold > 0 {
		res.BaseRatio = res.Cold / res.BaseCold
	}
	if err := record("(b) cold", res.Cold); err != nil {
		return nil, err
	}

	// A failed check is never cached and would run in every later run,
	// measuring itself rather than the cache: the later runs leave the
	// checks that failed in (b) out.
	ciArgs := []string{"ci"}
	if len(res.Failed) > 0 {
		res.Excluded = res.Failed
		var keep []string
		for _, r := range cold.Results {
			if r.Status != pipeline.StatusFail && r.Status != pipeline.StatusBlocked {
				keep = append(keep, r.Name)
			}
		}
		ciArgs = append(ciArgs, "-only="+strings.Join(keep, ","))
	}
	step(fmt.Sprintf("(d) warm, all cached (%d runs)", o.WarmRounds))
	var warm []float64
	for i := 0; i < o.WarmRounds; i++ {
		wall, rep, err := benchMage(ctx, clone, ciArgs...)
		if err != nil {
			return nil, err
		}
		warm = append(warm, wall.Seconds())
		res.WarmCached = countStatus(rep, pipeline.StatusCached)
	}
	res.Warm = median(warm)
	if err := record("(d) warm", res.Warm); err != nil {
		return nil, err
	}

	for _, e := range []struct {
		what, file string
		secs       *float64
		ran        *[]string
	}{
		{"(e) one-line edit of " + o.GoEdit, o.GoEdit, &res.GoEdit, &res.GoEditRan},
		{"(f) one-line edit of " + o.PyEdit, o.PyEdit, &res.PyEdit, &res.PyEditRan},
	} {
		step(e.what)
		if err := appendLine(filepath.Join(clone, filepath.FromSlash(e.file))); err != nil {
			return nil, err
		}
		wall, rep, err := benchMage(ctx, clone, ciArgs...)
		if err != nil {
			return nil, err
		}
		*e.secs = wall.Seconds()
		for _, r := range rep.Results {
			if r.Status != pipeline.StatusCached {
				*e.ran = append(*e.ran, r.Name)
			}
		}
		if err := record(e.what, *e.secs); err != nil {
			return nil, err
		}
	}

	step("(c) cold, serial: go run mage.go ci -nocache -j=1")
	wall, serial, err := benchMage(ctx, clone, "ci", "-nocache", "-j=1")
	if err != nil {
		return nil, err
	}
	if serial.Jobs != 1 {
		return nil, fmt.Errorf("bench: the serial run used %d jobs", serial.Jobs)
	}
	res.ColdSerial = wall.Seconds()
	if res.ColdSerial > 0 {
		res.Ratio = res.Cold / res.ColdSerial
	}
	for _, r := range cold.Results {
		c := BenchCheck{Name: r.Name, Cold: r.Seconds}
		if s, ok := serial.Result(r.Name); ok {
			c.Serial = s.Seconds
		}
		res.PerCheck = append(res.PerCheck, c)
	}
	if err := record("(c) cold, -j=1", res.ColdSerial); err != nil {
		return nil, err
	}

	step("mage start-up (go run mage.go -l)")
	var startup []float64
	for i := 0; i < 3; i++ {
		wall, _, err := benchMage(ctx, clone, "-l")
		if err != nil {
			return nil, err
		}
		startup = append(startup, wall.Seconds())
	}
	res.MageStartup = median(startup)
	res.Load = append(res.Load, loadAvg())

	if err := record("mage start-up", res.MageStartup); err != nil {
		return nil, err
	}
	return res, nil
}

// benchMage times `go run mage.go args...` in dir; for ci it returns the
// run's report (a failing check still writes one; no report means mage
// itself did not run).
func benchMage(ctx context.Context, dir string, args ...string) (time.Duration, *pipeline.Report, error) {
	isCI := len(args) > 0 && args[0] == "ci"
	if isCI {
		// A stale report must never pass for this run's.
		if err := os.Remove(ReportPath(dir)); err != nil && !os.IsNotExist(err) {
			return 0, nil, err
		}
	}
	var out bytes.Buffer
	start := time.Now()
	err := toolchain.Run(ctx, toolchain.Cmd{Name: "go", Args: append([]string{"run", "mage.go"}, args...), Dir: dir,
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
	rep, rerr := readReport(ReportPath(dir))
	if rerr != nil {
		return wall, nil, fmt.Errorf("go run mage.go %s in %s wrote no report (%v): %s", strings.Join(args, " "), dir, err, tail(out.String(), 15))
	}
	return wall, rep, nil
}

// shareCaches points the tool and vulnerability-index caches in the
// cache directory dst (a .cache) at src's.
func shareCaches(src, dst string) error {
	for _, d := range []string{"tools", "vulndb"} {
		from := filepath.Join(src, d)
		to := filepath.Join(dst, d)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(from, to); err != nil {
			return fmt.Errorf("share %s: %w", d, err)
		}
	}
	return nil
}

// appendLine makes the one-line edit: a comment at the end of the file,
// in the file's language.
func appendLine(path string) error {
	comment := "// bench: a one-line edit\n"
	if strings.HasSuffix(path, ".py") {
		comment = "# bench: a one-line edit\n"
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0) // #nosec G304 -- a source file of the bench's own scratch clone
	if err != nil {
		return fmt.Errorf("one-line edit: %w", err)
	}
	if _, err := f.WriteString(comment); err != nil {
		_ = f.Close() // the write's error is the one to report
		return fmt.Errorf("one-line edit: %w", err)
	}
	return f.Close()
}

// loadAvg is /proc/loadavg's 1-minute figure, "" where there is none.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.Fields(string(b) + " ")[0]
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

// benchGoals are the targets each figure is held to (on 2 cores).
var benchGoals = struct{ BaseRatio, Ratio, Warm, GoEdit, PyEdit, Fresh float64 }{0.40, 0.65, 1, 20, 30, 480}

// Markdown renders the result as the table the README quotes.
func (r *BenchResult) Markdown() string {
	var b strings.Builder
	verdict := func(v, goal float64) string {
		if v == 0 {
			return "not measured"
		}
		if v <= goal {
			return "met"
		}
		return "missed"
	}
	fmt.Fprintf(&b, "`go run mage.go ci` on a fresh clone of %s: %d checks, %d CPUs, %s, load average %s\n\n",
		shortSHA(r.Commit), r.Tasks, r.CPUs, r.Go, strings.Join(r.Load, " → "))
	fmt.Fprintf(&b, "| measure | seconds | goal | |\n|---|---:|---|---|\n")
	fmt.Fprintf(&b, "| (a) fresh clone, no tool built | %.1f | ≤ %.0f | %s |\n", r.Fresh, benchGoals.Fresh, verdict(r.Fresh, benchGoals.Fresh))
	if r.BaseCold > 0 {
		fmt.Fprintf(&b, "| (b) of %s, the base, run just before (b) | %.1f | | |\n", shortSHA(r.Base), r.BaseCold)
		fmt.Fprintf(&b, "| (b) cold, tools built (`-nocache`) | %.1f (%.2f of the base) | ≤ %.2f of the base | %s |\n", r.Cold, r.BaseRatio, benchGoals.BaseRatio, verdict(r.BaseRatio, benchGoals.BaseRatio))
	} else {
		fmt.Fprintf(&b, "| (b) cold, tools built (`-nocache`) | %.1f | | |\n", r.Cold)
	}
	fmt.Fprintf(&b, "| (c) (b) with `-j=1` | %.1f | | |\n", r.ColdSerial)
	fmt.Fprintf(&b, "| (b) / (c) | %.2f | ≤ %.2f | %s |\n", r.Ratio, benchGoals.Ratio, verdict(r.Ratio, benchGoals.Ratio))
	fmt.Fprintf(&b, "| (d) warm, all cached (%d of %d checks cached), mage start-up included | %.2f | < %.0f | %s |\n", r.WarmCached, r.Tasks, r.Warm, benchGoals.Warm, verdict(r.Warm, benchGoals.Warm))
	fmt.Fprintf(&b, "| (e) after a one-line edit of a Go package the e2e tests do not import | %.1f | ≤ %.0f | %s |\n", r.GoEdit, benchGoals.GoEdit, verdict(r.GoEdit, benchGoals.GoEdit))
	fmt.Fprintf(&b, "| (f) after a one-line edit of a Python file | %.1f | ≤ %.0f | %s |\n", r.PyEdit, benchGoals.PyEdit, verdict(r.PyEdit, benchGoals.PyEdit))
	fmt.Fprintf(&b, "| mage start-up alone (`go run mage.go -l`) | %.2f | | |\n", r.MageStartup)
	fmt.Fprintf(&b, "\nRe-run by (e): %s.\nRe-run by (f): %s.\n", strings.Join(r.GoEditRan, ", "), strings.Join(r.PyEditRan, ", "))
	if len(r.Failed) > 0 {
		fmt.Fprintf(&b, "\nChecks that failed in (b): %s.\n", strings.Join(r.Failed, ", "))
	}
	if len(r.Excluded) > 0 {
		fmt.Fprintf(&b, "Left out of (d), (e) and (f) (a failure is never cached): %s.\n", strings.Join(r.Excluded, ", "))
	}
	if len(r.PerCheck) > 0 {
		fmt.Fprintf(&b, "\n| check | (b) s | (c) s |\n|---|---:|---:|\n")
		for _, c := range r.PerCheck {
			fmt.Fprintf(&b, "| %s | %.1f | %.1f |\n", c.Name, c.Cold, c.Serial)
		}
	}
	return b.String()
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
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
