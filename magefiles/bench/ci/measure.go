package ci

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/checks"
	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// Measure measures `mage ci` on a fresh clone of root's HEAD and writes
// root's artifacts/bench/ci.json and ci.md. It runs the real command lines
// a developer types, so mage's own start-up is part of every figure.
// The Go build and module caches are the machine's: a fresh clone, not a
// fresh machine. The figures are taken in the order the steps below are
// called; each is written as soon as it is measured.
func Measure(ctx context.Context, root string, o Options) (*Result, error) {
	o = o.withDefaults()
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "bench-ci-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	b := &bench{root: root, o: o, out: filepath.Join(root, "artifacts", "bench")}
	head, err := b.git(ctx, "rev-parse", "HEAD")
	if err != nil {
		return nil, err
	}
	b.res = &Result{When: time.Now().UTC(), CPUs: runtime.NumCPU(), Commit: head, Load: []string{loadAvg()}}
	if b.res.Go, err = toolchain.GoVersion(ctx); err != nil {
		return nil, err
	}
	if err := b.cloneHead(ctx, filepath.Join(dir, "clone"), head); err != nil {
		return nil, err
	}
	if err := b.fresh(ctx); err != nil {
		return nil, err
	}
	if o.Base != "" {
		removeBase, err := b.baseCold(ctx, filepath.Join(dir, "base"))
		if removeBase != nil {
			defer removeBase()
		}
		if err != nil {
			return nil, err
		}
	}
	cold, err := b.cold(ctx)
	if err != nil {
		return nil, err
	}
	later := b.laterArgs(cold)
	if err := b.warm(ctx, later); err != nil {
		return nil, err
	}
	if err := b.edits(ctx, later); err != nil {
		return nil, err
	}
	if err := b.serial(ctx, cold); err != nil {
		return nil, err
	}
	if err := b.startup(ctx); err != nil {
		return nil, err
	}
	return b.res, nil
}

// bench is one Measure: the repository measured, its scratch clone and
// the figures so far.
type bench struct {
	root  string // the repository whose HEAD is measured
	clone string // the scratch clone every run happens in
	out   string // where the figures are written
	o     Options
	res   *Result
}

// git runs git in the measured repository.
func (b *bench) git(ctx context.Context, args ...string) (string, error) {
	out, err := toolchain.Output(ctx, toolchain.Cmd{Name: "git", Args: args, Dir: b.root})
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, toolchain.Tail(out, 5))
	}
	return strings.TrimSpace(out), nil
}

// step says what is measured next.
func (b *bench) step(what string) {
	fmt.Fprintf(b.o.Out, "bench %s: %s...\n", time.Now().UTC().Format("15:04:05"), what)
}

// record prints a figure and writes every figure so far: a bench cut
// short still leaves what it measured.
func (b *bench) record(what string, secs float64) error {
	fmt.Fprintf(b.o.Out, "bench %s: %s = %.1fs\n", time.Now().UTC().Format("15:04:05"), what, secs)
	return write(b.out, b.res)
}

// cloneHead makes the fresh clone of head every run happens in.
func (b *bench) cloneHead(ctx context.Context, clone, head string) error {
	b.clone = clone
	b.step("fresh clone of " + head[:12])
	if _, err := b.git(ctx, "clone", "--quiet", "--no-hardlinks", b.root, clone); err != nil {
		return err
	}
	if _, err := b.git(ctx, "-C", clone, "checkout", "--quiet", "--detach", head); err != nil {
		return err
	}
	b.res.Tasks = len(checks.All(checks.Config{Root: clone}))
	return nil
}

// fresh is (a): mage ci in the clone, building the pinned tools. With
// Options.Caches the clone uses those tools instead and (a) is not
// measured; the magefiles are still compiled, so no later figure pays
// for that.
func (b *bench) fresh(ctx context.Context) error {
	if b.o.Caches != "" {
		if err := shareCaches(b.o.Caches, filepath.Join(b.clone, ".cache")); err != nil {
			return err
		}
		b.step("(a) not measured: the tools of " + b.o.Caches + "; compile the magefiles (not measured)")
		_, _, err := runMage(ctx, b.clone, "-l")
		return err
	}
	b.step("(a) fresh clone: go run mage.go ci (builds the pinned tools)")
	wall, _, err := runMage(ctx, b.clone, "ci")
	if err != nil {
		return err
	}
	b.res.Fresh = wall.Seconds()
	return b.record("(a) fresh", b.res.Fresh)
}

// baseCold is (b) of the Base commit, in a worktree at dir, run right
// before the clone's (b). The returned function removes the worktree.
func (b *bench) baseCold(ctx context.Context, dir string) (func(), error) {
	if _, err := b.git(ctx, "worktree", "add", "--detach", dir, b.o.Base); err != nil {
		return nil, err
	}
	remove := func() { _, _ = b.git(ctx, "worktree", "remove", "--force", dir) }
	b.res.Base, _ = b.git(ctx, "rev-parse", b.o.Base)
	// The base uses the tools and vulnerability index (a) built: the
	// pair compares the checks, not the tool builds.
	if err := shareCaches(filepath.Join(b.clone, ".cache"), filepath.Join(dir, ".cache")); err != nil {
		return remove, err
	}
	b.step("base " + b.o.Base + ": compile its magefiles (not measured)")
	if _, _, err := runMage(ctx, dir, "-l"); err != nil {
		return remove, err
	}
	b.step("(b) of the base: go run mage.go ci -nocache")
	wall, _, err := runMage(ctx, dir, "ci", "-nocache")
	if err != nil {
		return remove, err
	}
	b.res.BaseCold = wall.Seconds()
	return remove, b.record("(b) of the base", b.res.BaseCold)
}

// cold is (b): mage ci -nocache with the tools built. Its report names
// the checks and their times for the later steps.
func (b *bench) cold(ctx context.Context) (*pipeline.Report, error) {
	b.step("(b) cold: go run mage.go ci -nocache")
	wall, cold, err := runMage(ctx, b.clone, "ci", "-nocache")
	if err != nil {
		return nil, err
	}
	b.res.Cold = wall.Seconds()
	b.res.Failed = failedTasks(cold)
	if b.res.BaseCold > 0 {
		b.res.BaseRatio = b.res.Cold / b.res.BaseCold
	}
	return cold, b.record("(b) cold", b.res.Cold)
}

// laterArgs are the arguments of the cached runs (d), (e) and (f). A
// failed check is never cached and would run in every later run,
// measuring itself rather than the cache: they leave the checks that
// failed in (b) out.
func (b *bench) laterArgs(cold *pipeline.Report) []string {
	args := []string{"ci"}
	if len(b.res.Failed) == 0 {
		return args
	}
	b.res.Excluded = b.res.Failed
	var keep []string
	for _, r := range cold.Results {
		if r.Status != pipeline.StatusFail && r.Status != pipeline.StatusBlocked {
			keep = append(keep, r.Name)
		}
	}
	return append(args, "-only="+strings.Join(keep, ","))
}

// warm is (d): the median of WarmRounds runs with everything cached.
func (b *bench) warm(ctx context.Context, args []string) error {
	b.step(fmt.Sprintf("(d) warm, all cached (%d runs)", b.o.WarmRounds))
	var warm []float64
	for i := 0; i < b.o.WarmRounds; i++ {
		wall, rep, err := runMage(ctx, b.clone, args...)
		if err != nil {
			return err
		}
		warm = append(warm, wall.Seconds())
		b.res.WarmCached = countStatus(rep, pipeline.StatusCached)
	}
	b.res.Warm = median(warm)
	return b.record("(d) warm", b.res.Warm)
}

// edits are (e) and (f): a cached run after a one-line edit of a Go file,
// then of a Python file, each noting the checks the edit re-ran.
func (b *bench) edits(ctx context.Context, args []string) error {
	for _, e := range []struct {
		what, file string
		secs       *float64
		ran        *[]string
	}{
		{"(e) one-line edit of " + b.o.GoEdit, b.o.GoEdit, &b.res.GoEdit, &b.res.GoEditRan},
		{"(f) one-line edit of " + b.o.PyEdit, b.o.PyEdit, &b.res.PyEdit, &b.res.PyEditRan},
	} {
		b.step(e.what)
		if err := appendLine(filepath.Join(b.clone, filepath.FromSlash(e.file))); err != nil {
			return err
		}
		wall, rep, err := runMage(ctx, b.clone, args...)
		if err != nil {
			return err
		}
		*e.secs = wall.Seconds()
		for _, r := range rep.Results {
			if r.Status != pipeline.StatusCached {
				*e.ran = append(*e.ran, r.Name)
			}
		}
		if err := b.record(e.what, *e.secs); err != nil {
			return err
		}
	}
	return nil
}

// serial is (c): (b) again with -j=1, last because it is the longest run,
// and each check's time in both cold runs.
func (b *bench) serial(ctx context.Context, cold *pipeline.Report) error {
	b.step("(c) cold, serial: go run mage.go ci -nocache -j=1")
	wall, serial, err := runMage(ctx, b.clone, "ci", "-nocache", "-j=1")
	if err != nil {
		return err
	}
	if serial.Jobs != 1 {
		return fmt.Errorf("bench: the serial run used %d jobs", serial.Jobs)
	}
	b.res.ColdSerial = wall.Seconds()
	if b.res.ColdSerial > 0 {
		b.res.Ratio = b.res.Cold / b.res.ColdSerial
	}
	for _, r := range cold.Results {
		c := CheckTime{Name: r.Name, Cold: r.Seconds, ColdCPU: r.CPUSeconds}
		if s, ok := serial.Result(r.Name); ok {
			c.Serial, c.SerialCPU = s.Seconds, s.CPUSeconds
		}
		b.res.PerCheck = append(b.res.PerCheck, c)
	}
	return b.record("(c) cold, -j=1", b.res.ColdSerial)
}

// startup is mage's own start-up (go run mage.go -l), the floor under any
// target: the median of three runs. The load average is read again after
// it, at the end of the bench.
func (b *bench) startup(ctx context.Context) error {
	b.step("mage start-up (go run mage.go -l)")
	var startup []float64
	for i := 0; i < 3; i++ {
		wall, _, err := runMage(ctx, b.clone, "-l")
		if err != nil {
			return err
		}
		startup = append(startup, wall.Seconds())
	}
	b.res.MageStartup = median(startup)
	b.res.Load = append(b.res.Load, loadAvg())
	return b.record("mage start-up", b.res.MageStartup)
}

// loadAvg is /proc/loadavg's 1-minute figure, "" where there is none.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.Fields(string(b) + " ")[0]
}
