package checks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cputime"
	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// The Go tests are several checks, one per group of packages, each with
// its own cache key: an edit re-runs only the groups whose packages
// import (directly or not) the package edited, or whose tests read the
// file edited. A group's key is the Go files of its packages and of every
// module package they import (tests' imports included, read from the
// import clauses), its packages' testdata, go.mod and go.sum, the Go
// version, and the repository files its tests read that the import graph
// does not show, listed with the group. A group runs `go test -count=1`:
// its key, not Go's test cache, decides when it runs, because Go's cache
// cannot see what a test's subprocesses read (the real tools, Python, the
// compiled magefiles).
//
// go-coverage merges the groups' profiles into artifacts/coverage/go.out
// and reports the module's coverage; the group "go-test" selects all.

// goTestTimeout bounds one test binary of a group.
const goTestTimeout = "30m"

// goTestGroup is one check of the Go tests.
type goTestGroup struct {
	Name string
	// Packages are package directories ("tests/e2e") or trees
	// ("magefiles/emulator/..."); empty: every package no other group takes.
	Packages []string
	// Files are repository files the tests read beyond their packages'
	// Go files and testdata (by content).
	Files []string
	// Names are files whose presence, not content, the tests depend on.
	Names []string
	// Version adds tool versions or states the tests depend on.
	Version func(ctx context.Context, cfg Config) (string, error)
	// Prepare runs before the tests: what they find must not change
	// while they run.
	Prepare func(ctx context.Context, t *pipeline.T, cfg Config)
	// Cover are package patterns instrumented in each test binary
	// (-coverpkg), for packages tested through other packages' tests,
	// which would otherwise count as never run. go-coverage merges the
	// blocks, so a package covered in two groups counts once.
	Cover []string
	// Tests and Skip select the group's tests by name (go test -run and
	// -skip), so the tests of one package can be checks of their own,
	// each with its key; groups that select tests may share packages.
	Tests, Skip string
	// Closure, when set, replaces the group's packages as the packages
	// whose import closure's Go files are the key: for tests that run a
	// binary built from more code than they exercise (the targets run
	// through mage), the packages behind the targets they run.
	Closure []string
	// PerPackage keys each package of the group as a group is keyed (its
	// import closure's Go files, its testdata, the group's files): a run
	// tests only the packages whose key changed since they last passed,
	// and reports the others from what they recorded then. Only for a
	// group without Cover, whose profile blocks each belong to the package
	// that was tested.
	PerPackage bool
	// WithoutRace runs the tests without the race detector; the group's
	// comment says why (the e2e groups).
	WithoutRace bool
	// Waits marks a group whose time is mostly waiting, not CPU: it runs
	// beside the pipeline's jobs instead of taking one (pipeline.Task.Waits).
	Waits bool
}

// bundleInputs are the bundle files the tests that load or copy the
// project's bundle read. The Python sources count by name only: the
// bundle validation checks that the files its resources name exist,
// and the scratch repositories of the demo and the end-to-end tests copy
// src/ and upload it to the emulator, whose jobs and endpoints run a Go
// stand-in of the model, so what the files say changes no result.
var (
	bundleInputs = []string{"databricks.yml", "resources/**", "tests/integration/**", "tests/validation/**"}
	pythonNames  = []string{"src/**"}
)

// goTestGroups partition the module's tests, the longest first (the
// order is also the start order of the checks when no earlier run timed
// them, see Declared).
var goTestGroups = []goTestGroup{
	// Whole CD flows against the emulator through the SDK, from scratch
	// copies of the bundle.
	// They are what exercises most of cd and workspace, so they count
	// toward those packages' coverage.
	// Under the race detector each flow costs about four times the CPU
	// (measured back to back: a release through three environments 2.0
	// CPU seconds without it, 8.2 with it), and on two cores the suite's
	// CPU is its wall time.
	// The goroutines a flow starts (the canary's probes and traffic) are
	// raced in rollout's own tests, the emulator's handlers in its own;
	// what only a whole flow shows is two flows meeting in one process, so
	// go-test-e2e-race runs under it the tests where they do, and
	// go-test-e2e the others without it.
	{Name: "go-test-e2e-race", Packages: []string{"tests/e2e"}, Tests: e2eRaceTests, Files: bundleInputs, Names: pythonNames, Cover: []string{"./magefiles/..."}},
	{Name: "go-test-e2e", Packages: []string{"tests/e2e"}, Skip: e2eRaceTests, Files: bundleInputs, Names: pythonNames, Cover: []string{"./magefiles/..."}, WithoutRace: true},
	// The checks run the real tools on fixtures under their testdata:
	// the pinned Go tools when built (otherwise those tests skip), and
	// Python's.
	{Name: "go-test-checks", Packages: []string{"magefiles/checks/..."}, Version: checksTestTools, Prepare: prepareChecksTests},
	// The emulator's stand-in of the model, whose test runs the Python
	// model of src/ beside it on the integration cases: the one Go test
	// that reads what the Python files say.
	{Name: "go-test-model", Packages: []string{"magefiles/emulator/agentmodel"}, Files: []string{"src/**", "tests/integration/**"}},
	// The emulator and its contract suite. Its service packages (core,
	// jobs, registry, serving, unitycatalog, sqlwarehouse, ...) are tested
	// through their own tests, the emulator's and the contract tests,
	// which serve them over HTTP.
	{Name: "go-test-emulator", Packages: []string{"magefiles/emulator/...", "tests/contract"}, Files: []string{"tests/integration/**"}, Cover: []string{"./magefiles/emulator/..."}},
	// mage demo's whole release story against three emulated workspaces:
	// the same flows as the end-to-end tests, on the emulator's scaled
	// clock, so without the race detector for the same reason (their
	// meeting goroutines are go-test-e2e-race's).
	{Name: "go-test-demo", Packages: []string{"magefiles/demo"}, Files: bundleInputs, Names: pythonNames, WithoutRace: true},
	// The canary's verdict: its tests simulate thousands of rollouts to
	// hold the false-abort rate, in one goroutine, so the race detector
	// has nothing to find there and makes them eight times slower
	// (measured: 1.5 s without it, 12.4 s with it).
	{Name: "go-test-judge", Packages: []string{"magefiles/rollout/judge"}, WithoutRace: true},
	// Canary, rollout and rollback against the emulator, with the
	// project's bundle.
	{Name: "go-test-rollout", Packages: []string{"magefiles/rollout/..."}, Files: bundleInputs},
	// tests/targets compiles every magefile (the mage-tagged targets
	// included) with mage.go, runs targets in the repository (ci:gofmt
	// over every Go file, bundle:validate, scripts/rollback.sh) and reads
	// the workflows.
	{Name: "go-test-targets", Packages: []string{"tests/targets"}, Skip: "^(" + servedTargetsTest + "|" + concurrentCompileTest + ")$",
		Files: append([]string{"**/*.go", "scripts/**", ".github/workflows/**"}, bundleInputs...), Names: pythonNames},
	// The CD targets as a release runs them (deploy, verify, validate,
	// status) against emulator:serve: what they run is cd and the
	// emulator, so the key is those packages' closure, the target files
	// and mage.go, not every package linked into the binary (a compile
	// error anywhere is go-vet's, which type-checks the targets).
	// The served emulator's clock is real time, so the release mostly
	// waits (measured in a cold run: 74 s of wall time, 11 s of CPU) and
	// the group runs beside the jobs.
	{Name: "go-test-served", Waits: true, Packages: []string{"tests/targets"}, Tests: "^" + servedTargetsTest + "$",
		Closure: []string{"tests/targets", "magefiles/cd", "magefiles/emulator", "magefiles/project", "magefiles/magebin"},
		Files:   append([]string{"mage.go", "magefiles/*.go", "tests/validation/**"}, bundleInputs...), Names: pythonNames},
	// mage.go's compile under concurrent runs, with an empty binary
	// cache: the bootstrap and the one target it runs (bundle:validate).
	{Name: "go-test-compile", Packages: []string{"tests/targets"}, Tests: "^" + concurrentCompileTest + "$",
		Closure: []string{"tests/targets", "magefiles/magebin", "magefiles/bundle", "magefiles/project"},
		Files:   append([]string{"mage.go", "magefiles/*.go"}, bundleInputs...), Names: pythonNames},
	// Every other package: unit tests, the bundle loader on the project's
	// bundle, the demo on a scratch copy.
	// They are many small packages, so each keeps its own key.
	{Name: "go-test-rest", Files: bundleInputs, Names: pythonNames, PerPackage: true},
}

// e2eRaceTests are the end-to-end tests go-test-e2e-race runs under the
// race detector: a deploy refused while another is in its analysis, in
// the same process, and a canary with its traffic and probes running
// beside the flow.
const e2eRaceTests = "^(TestConcurrentDeploysRefused|TestCanaryPromotes)$"

// The tests of tests/targets that are checks of their own.
const (
	servedTargetsTest     = "TestTargetsAgainstServedEmulator"
	concurrentCompileTest = "TestConcurrentRunsInOneCheckoutAllCompile"
)

// checksTestTools is what the checks' tests run: the pinned Go tools
// (prepareChecksTests builds them before the tests start, so a pass means
// they ran) and the Python tools' versions.
func checksTestTools(ctx context.Context, cfg Config) (string, error) {
	var b strings.Builder
	for _, name := range toolchain.ToolNames() {
		fmt.Fprintf(&b, "%s\n", toolchain.Tool(name).ID())
	}
	fmt.Fprintf(&b, "vulndb %s\n", toolchain.GoData["vulndb"].Version)
	pys := cfg.python()
	py, err := pys.Find(ctx, "", pythonTestTools...)
	if err != nil {
		var missing *toolchain.MissingError
		if !errors.As(err, &missing) {
			return "", err
		}
		// Cacheable: installing the tools changes this line.
		fmt.Fprintf(&b, "python: %s\n", missing.What)
		return b.String(), nil
	}
	v, err := pys.DistVersions(ctx, py, pythonTestTools...)
	if err != nil {
		return "", err
	}
	return b.String() + v, nil
}

// prepareChecksTests provides what the checks' tests run before they
// start: the pinned Go tools and the Go vulnerability data (the checks that
// need them wait on the same per-tool lock, so nothing is built twice),
// and the Python tools where the checks can install them (root, apt). A
// fresh machine's first run so skips nothing a second run executes; the
// Python checks beside them would otherwise install mid-run, and a test
// that reads the tools' versions twice would see two machines. What cannot
// be provided is said here, and its tests skip saying why.
func prepareChecksTests(ctx context.Context, t *pipeline.T, cfg Config) {
	for _, name := range toolchain.ToolNames() {
		if _, err := toolchain.EnsureGoTool(ctx, cfg.toolsDir(), toolchain.Tool(name), logTo(t)); err != nil {
			t.Printf("%s for the checks' tests: %v", name, err)
		}
	}
	if _, err := goVulnDB(ctx, cfg, logTo(t)); err != nil {
		t.Printf("Go vulnerability data for the checks' tests: %v", err)
	}
	if _, err := cfg.python().Ensure(ctx, logTo(t), pythonTestTools...); err != nil {
		t.Printf("Python tools for the checks' tests: %v", err)
	}
}

// pythonTestTools are the Python modules the checks' tests run.
var pythonTestTools = []string{"pytest", "pytest_cov", "xdist", "pytest_timeout", "bandit", "black", "isort", "flake8", "pylint", "mypy"}

// goTestPlan is the groups that have packages in the module at root,
// each with its package directories, and the scan's error.
type goTestPlan struct {
	groups []goTestGroup
	pkgs   map[string][]string // group name -> package directories
	graph  *goPackages
	err    error
}

func planGoTests(root string, groups []goTestGroup) *goTestPlan {
	p := &goTestPlan{pkgs: map[string][]string{}}
	p.graph, p.err = scanGoPackages(root)
	if p.err != nil {
		// Inputs can still be named (conservatively); Run reports the error.
		p.groups = groups[len(groups)-1:]
		return p
	}
	taken := map[string]bool{}
	var rest *goTestGroup
	for i, g := range groups {
		if len(g.Packages) == 0 {
			rest = &groups[i]
			continue
		}
		var dirs []string
		selects := g.Tests != "" || g.Skip != ""
		for _, pat := range g.Packages {
			for _, d := range p.graph.match(pat) {
				if !taken[d] || selects {
					taken[d] = true
					dirs = append(dirs, d)
				}
			}
		}
		if len(dirs) > 0 {
			p.groups = append(p.groups, g)
			p.pkgs[g.Name] = dirs
		}
	}
	if rest != nil {
		var dirs []string
		for _, d := range p.graph.dirs() {
			if !taken[d] {
				dirs = append(dirs, d)
			}
		}
		if len(dirs) > 0 {
			p.groups = append(p.groups, *rest)
			p.pkgs[rest.Name] = dirs
		}
	}
	return p
}

// inputs is a group's cache key: see the comment at the top.
func (p *goTestPlan) inputs(cfg Config, g goTestGroup) pipeline.Inputs {
	in := pipeline.Inputs{Names: g.Names, Version: goVersion}
	if g.Version != nil {
		in.Version = func(ctx context.Context) (string, error) {
			gv, err := goVersion(ctx)
			if err != nil {
				return "", err
			}
			v, err := g.Version(ctx, cfg)
			if err != nil {
				return "", err
			}
			return gv + "\n" + v, nil
		}
	}
	files := []string{"go.mod", "go.sum"}
	if p.err != nil {
		files = append(files, "**/*.go", "**/testdata/**")
	} else {
		dirs := p.pkgs[g.Name]
		of := dirs
		if len(g.Closure) > 0 {
			of = g.Closure
		}
		files = append(files, goFilesOf(p.graph.closure(of))...)
		for _, d := range dirs {
			files = append(files, path.Join(d, "testdata", "**"))
		}
	}
	in.Files = append(files, g.Files...)
	return in
}

// GoTests returns the Go test checks of the module at cfg.Root, one per
// group with packages, and go-coverage after them.
func GoTests(cfg Config) []pipeline.Task {
	plan := planGoTests(cfg.Root, goTestGroups)
	var tasks []pipeline.Task
	var names []string
	var versions []func(context.Context) (string, error)
	var cover pipeline.Inputs
	for _, g := range plan.groups {
		tasks = append(tasks, plan.task(cfg, g))
		names = append(names, g.Name)
		in := plan.inputs(cfg, g)
		cover.Files = append(cover.Files, in.Files...)
		cover.Names = append(cover.Names, in.Names...)
		versions = append(versions, in.Version)
	}
	// The merge's key is the union of the groups' keys: it is cached
	// exactly when every group is.
	cover.Version = func(ctx context.Context) (string, error) {
		var b strings.Builder
		for _, v := range versions {
			s, err := v(ctx)
			if err != nil {
				return "", err
			}
			b.WriteString(s + "\n")
		}
		return b.String(), nil
	}
	return append(tasks, goCoverage(cfg, names, cover))
}

func (p *goTestPlan) task(cfg Config, g goTestGroup) pipeline.Task {
	return pipeline.Task{
		Name:   g.Name,
		Waits:  g.Waits,
		Inputs: p.inputs(cfg, g),
		Run: func(ctx context.Context, t *pipeline.T) error {
			if p.err != nil {
				return p.err
			}
			if g.Prepare != nil {
				g.Prepare(ctx, t, cfg)
			}
			if g.PerPackage {
				return p.runParts(ctx, t, cfg, g)
			}
			pkgs := make([]string, 0, len(p.pkgs[g.Name]))
			for _, d := range p.pkgs[g.Name] {
				pkgs = append(pkgs, "./"+d)
			}
			return runGoTest(ctx, t, cfg, g, g.selection(pkgs), nil)
		},
	}
}

// selection is the go test arguments naming the group's tests: -run and
// -skip when it selects some, then the packages.
func (g goTestGroup) selection(pkgs []string) []string {
	var args []string
	if g.Tests != "" {
		args = append(args, "-run="+g.Tests)
	}
	if g.Skip != "" {
		args = append(args, "-skip="+g.Skip)
	}
	return append(args, pkgs...)
}

// goTestOutputs makes the report directories and returns the group's
// coverage profile path, removed: a stale profile must never pass for
// this run's.
func goTestOutputs(t *pipeline.T, name string) (profile, testsDir string, err error) {
	covDir := filepath.Join(t.Artifacts(), "coverage")
	testsDir = filepath.Join(t.Artifacts(), "tests")
	for _, d := range []string{covDir, testsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", "", err
		}
	}
	profile = filepath.Join(covDir, name+".out")
	_ = os.Remove(profile)
	return profile, testsDir, nil
}

// runGoTest runs `go test -race -cover` (without -race if the group says
// so) with the arguments and writes the JUnit XML, the -json stream and
// the coverage profile under the group's name.
// parts, when set, hears the run's result before it is reported, and
// adds the packages that did not run (runParts).
func runGoTest(ctx context.Context, t *pipeline.T, cfg Config, g goTestGroup, pkgs []string, parts *partRun) error {
	name := g.Name
	profile, testsDir, err := goTestOutputs(t, name)
	if err != nil {
		return err
	}
	var raw bytes.Buffer
	stream := newGoTestStream(t.Out())
	var stderr bytes.Buffer
	// -vet=off: go vet is a check of its own (go-vet), run once.
	// -timeout: go test's default (10 minutes per test binary) is what the
	// end-to-end tests take on a 2-core machine that other work loads;
	// the tests bound their own waits with contexts.
	// -covermode=atomic, the mode -race implies, in every group: go-coverage
	// merges profiles of one mode.
	args := []string{"test", "-covermode=atomic", "-coverprofile=" + profile, "-json", "-count=1", "-vet=off", "-timeout=" + goTestTimeout}
	if !g.WithoutRace {
		args = append(args, "-race")
	}
	if cputime.Cores(ctx) > 0 {
		// The group shares the machine and each process keeps to its share
		// of the cores (GOMAXPROCS), but packages and parallel tests still
		// run side by side as many as without the bound (both default to
		// GOMAXPROCS): what waits (a test on the emulator's clock, a
		// package's subprocess) leaves the core to the others.
		n := strconv.Itoa(runtime.NumCPU())
		args = append(args, "-p="+n, "-parallel="+n)
	}
	if len(g.Cover) > 0 {
		args = append(args, "-coverpkg="+strings.Join(g.Cover, ","))
	}
	args = append(args, pkgs...)
	runErr := toolchain.Run(ctx, toolchain.Cmd{
		Name: "go", Args: args, Dir: cfg.Root,
		Stdout: io.MultiWriter(&raw, stream),
		Stderr: io.MultiWriter(&stderr, t.Out()),
	})
	stream.Flush()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	res, err := parseGoTestJSON(bytes.NewReader(raw.Bytes()))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(testsDir, name+".json"), raw.Bytes(), 0o644); err != nil {
		return err
	}
	if err := writeJUnit(filepath.Join(testsDir, name+".xml"), res.junit()); err != nil {
		return err
	}
	module := modulePath(cfg.Root)
	for _, f := range res.findings(module) {
		t.Finding(f)
	}
	summary := res.summary()
	if parts != nil {
		if summary, err = parts.finish(res, profile, module); err != nil {
			return err
		}
	}
	if total, err := profileCoverage(profile); err == nil {
		summary += fmt.Sprintf(", coverage %.1f%%", total)
	}
	t.Summary("%s", summary)
	if runErr != nil {
		if failed := res.failedNames(); len(failed) > 0 {
			return fmt.Errorf("go test: %s failed (see artifacts/tests/%s.xml)", strings.Join(failed, ", "), name)
		}
		return fmt.Errorf("go test: %w: %s", runErr, toolchain.Tail(stderr.String(), 10))
	}
	return nil
}

// goTestEvent is one line of `go test -json` (test2json).
type goTestEvent struct {
	Action     string
	Package    string
	Test       string
	Elapsed    float64
	Output     string
	ImportPath string // build-output / build-fail
}

type goTestCase struct {
	Name    string
	Status  string // pass, fail, skip
	Elapsed float64
	Output  strings.Builder
}

type goTestPackage struct {
	Name     string
	Status   string // pass, fail, skip ("no test files")
	Elapsed  float64
	Coverage string // "86.5%"
	Tests    []*goTestCase
	byName   map[string]*goTestCase
	Output   strings.Builder // package-level output (panics, TestMain, build errors)
}

type goTestResult struct {
	Packages []*goTestPackage
}

var coverageLine = regexp.MustCompile(`coverage: ([0-9.]+%) of statements`)

// parseGoTestJSON folds test2json events into packages and tests.
func parseGoTestJSON(r io.Reader) (*goTestResult, error) {
	byPkg := map[string]*goTestPackage{}
	var order []string
	pkg := func(name string) *goTestPackage {
		p := byPkg[name]
		if p == nil {
			p = &goTestPackage{Name: name, byName: map[string]*goTestCase{}}
			byPkg[name] = p
			order = append(order, name)
		}
		return p
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 || line[0] != '{' {
			continue // not an event (go vet or build noise on stdout)
		}
		var ev goTestEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return nil, fmt.Errorf("parse go test -json: %w", err)
		}
		switch ev.Action {
		case "build-output":
			p := pkg(strings.Fields(ev.ImportPath + " ")[0])
			p.Output.WriteString(ev.Output)
			continue
		case "build-fail":
			p := pkg(strings.Fields(ev.ImportPath + " ")[0])
			p.Status = "fail"
			continue
		}
		if ev.Package == "" {
			continue
		}
		p := pkg(ev.Package)
		if ev.Test == "" {
			switch ev.Action {
			case "output":
				p.Output.WriteString(ev.Output)
				if m := coverageLine.FindStringSubmatch(ev.Output); m != nil {
					p.Coverage = m[1]
				}
			case "pass", "fail", "skip":
				p.Status, p.Elapsed = ev.Action, ev.Elapsed
			}
			continue
		}
		tc := p.byName[ev.Test]
		if tc == nil {
			tc = &goTestCase{Name: ev.Test}
			p.byName[ev.Test] = tc
			p.Tests = append(p.Tests, tc)
		}
		switch ev.Action {
		case "output":
			tc.Output.WriteString(ev.Output)
		case "pass", "fail", "skip":
			tc.Status, tc.Elapsed = ev.Action, ev.Elapsed
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read go test -json: %w", err)
	}
	res := &goTestResult{}
	for _, n := range order {
		p := byPkg[n]
		if p.Status == "" {
			// No final event: the test binary died (timeout, crash).
			p.Status = "fail"
		}
		res.Packages = append(res.Packages, p)
	}
	return res, nil
}

func (r *goTestResult) counts() (pass, fail, skip int) {
	for _, p := range r.Packages {
		for _, tc := range p.Tests {
			switch tc.Status {
			case "pass":
				pass++
			case "fail":
				fail++
			case "skip":
				skip++
			}
		}
	}
	return pass, fail, skip
}

func (r *goTestResult) summary() string { return r.tally().String() }

// goTestTally counts packages and tests for a group's summary line.
type goTestTally struct {
	okPkgs, failPkgs, pass, fail, skip int
	// note follows the package counts ("(1 tested, 24 unchanged ...)").
	note string
}

func (r *goTestResult) tally() goTestTally {
	var n goTestTally
	for _, p := range r.Packages {
		switch p.Status {
		case "pass":
			n.okPkgs++
		case "fail":
			n.failPkgs++
		}
	}
	n.pass, n.fail, n.skip = r.counts()
	return n
}

func (n goTestTally) String() string {
	s := fmt.Sprintf("%d packages ok", n.okPkgs)
	if n.failPkgs > 0 {
		s += fmt.Sprintf(", %d failed", n.failPkgs)
	}
	if n.note != "" {
		s += " " + n.note
	}
	s += fmt.Sprintf("; %d tests passed", n.pass)
	if n.fail > 0 {
		s += fmt.Sprintf(", %d failed", n.fail)
	}
	if n.skip > 0 {
		s += fmt.Sprintf(", %d skipped", n.skip)
	}
	return s
}

// failedNames lists failed tests (package-qualified leaf names) or, for a
// package that failed without a failing test, the package.
func (r *goTestResult) failedNames() []string {
	var out []string
	for _, p := range r.Packages {
		if p.Status != "fail" {
			continue
		}
		n := 0
		for _, tc := range p.Tests {
			if tc.Status == "fail" && !hasFailedSubtest(p, tc.Name) {
				out = append(out, path.Base(p.Name)+"."+tc.Name)
				n++
			}
		}
		if n == 0 {
			out = append(out, p.Name+" (build or package failure)")
		}
	}
	return out
}

func hasFailedSubtest(p *goTestPackage, name string) bool {
	for _, tc := range p.Tests {
		if tc.Status == "fail" && strings.HasPrefix(tc.Name, name+"/") {
			return true
		}
	}
	return false
}

var (
	goTestFailAt  = regexp.MustCompile(`(?m)^\s+([\w./-]+\.go):(\d+): (.*)$`)
	goBuildFailAt = regexp.MustCompile(`(?m)^(?:\./)?([\w./-]+\.go):(\d+):(\d+): (.*)$`)
)

// findings locates failures: `file_test.go:12: message` lines of failed
// tests, and compiler errors, as repository-relative paths.
func (r *goTestResult) findings(module string) []pipeline.Finding {
	var fs []pipeline.Finding
	for _, p := range r.Packages {
		if p.Status != "fail" {
			continue
		}
		dir := strings.TrimPrefix(strings.TrimPrefix(p.Name, module), "/")
		for _, tc := range p.Tests {
			if tc.Status != "fail" {
				continue
			}
			for _, m := range goTestFailAt.FindAllStringSubmatch(tc.Output.String(), -1) {
				fs = append(fs, pipeline.Finding{File: path.Join(dir, m[1]), Line: atoiSafe(m[2]), Rule: tc.Name,
					Message: strings.TrimSpace(m[3])})
			}
		}
		for _, m := range goBuildFailAt.FindAllStringSubmatch(p.Output.String(), -1) {
			file := m[1]
			if !strings.Contains(file, "/") {
				file = path.Join(dir, file)
			}
			fs = append(fs, pipeline.Finding{File: file, Line: atoiSafe(m[2]), Col: atoiSafe(m[3]), Rule: "build", Message: m[4]})
		}
	}
	return fs
}

func atoiSafe(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// junit converts the result to JUnit XML suites, one per package.
func (r *goTestResult) junit() junitSuites {
	var out junitSuites
	for _, p := range r.Packages {
		s := junitSuite{Name: p.Name, Time: p.Elapsed}
		if p.Coverage != "" {
			s.Properties = []junitProperty{{Name: "coverage", Value: p.Coverage}}
		}
		tests := append([]*goTestCase(nil), p.Tests...)
		sort.SliceStable(tests, func(i, j int) bool { return tests[i].Name < tests[j].Name })
		for _, tc := range tests {
			c := junitCase{ClassName: p.Name, Name: tc.Name, Time: tc.Elapsed}
			switch tc.Status {
			case "fail":
				c.Failure = &junitMessage{Message: firstFailureLine(tc.Output.String()), Body: tc.Output.String()}
				s.Failures++
			case "skip":
				c.Skipped = &junitMessage{Message: "skipped", Body: tc.Output.String()}
				s.Skipped++
			}
			s.Tests++
			s.Cases = append(s.Cases, c)
		}
		if p.Status == "fail" && s.Failures == 0 {
			// A package that failed without a failing test (build error,
			// panic in init, timeout) still shows up as a failure.
			s.Tests++
			s.Errors++
			s.Cases = append(s.Cases, junitCase{ClassName: p.Name, Name: "(package)",
				Error: &junitMessage{Message: "package failed", Body: p.Output.String()}})
		}
		out.Suites = append(out.Suites, s)
	}
	return out
}

func firstFailureLine(out string) string {
	if m := goTestFailAt.FindStringSubmatch(out); m != nil {
		return m[1] + ":" + m[2] + ": " + strings.TrimSpace(m[3])
	}
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "=== ") && !strings.HasPrefix(l, "--- ") {
			return l
		}
	}
	return "failed"
}

// goTestStream turns the -json event stream into a readable log as it
// arrives: one line per package, and the output of failed tests.
type goTestStream struct {
	mu      sync.Mutex
	out     io.Writer
	partial []byte
	tests   map[string]*strings.Builder // package/test -> output so far
}

func newGoTestStream(out io.Writer) *goTestStream {
	return &goTestStream{out: out, tests: map[string]*strings.Builder{}}
}

func (s *goTestStream) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, b...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.line(s.partial[:i])
		s.partial = s.partial[i+1:]
	}
	return len(b), nil
}

// Flush handles a last line without a newline.
func (s *goTestStream) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) > 0 {
		s.line(s.partial)
		s.partial = nil
	}
}

func (s *goTestStream) line(b []byte) {
	var ev goTestEvent
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &ev) != nil {
		if len(bytes.TrimSpace(b)) > 0 {
			fmt.Fprintf(s.out, "%s\n", b)
		}
		return
	}
	key := ev.Package + "\x00" + ev.Test
	switch {
	case ev.Action == "build-output":
		fmt.Fprint(s.out, ev.Output)
	case ev.Test != "" && ev.Action == "output":
		sb := s.tests[key]
		if sb == nil {
			sb = &strings.Builder{}
			s.tests[key] = sb
		}
		sb.WriteString(ev.Output)
	case ev.Test != "" && ev.Action == "fail":
		if sb := s.tests[key]; sb != nil {
			fmt.Fprint(s.out, sb.String())
		}
		delete(s.tests, key)
	case ev.Test != "" && (ev.Action == "pass" || ev.Action == "skip"):
		delete(s.tests, key)
	case ev.Test == "" && ev.Action == "output":
		// Package lines: "ok ...", "FAIL ...", coverage, panics.
		if o := strings.TrimSpace(ev.Output); o != "" && o != "PASS" && !strings.HasPrefix(o, "=== ") {
			fmt.Fprint(s.out, ev.Output)
		}
	}
}

// modulePath reads the module path from go.mod.
func modulePath(root string) string {
	return strings.Trim(goModDirective(root, "module"), `"`)
}

// goModDirective is the argument of a one-line directive of go.mod
// (module, go, toolchain); "" when go.mod or the directive is missing.
func goModDirective(root, name string) string {
	// #nosec G304 -- go.mod at the repository root
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == name {
			return f[1]
		}
	}
	return ""
}
