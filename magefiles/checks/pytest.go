package checks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// MinCoverage is the Python line+branch coverage, in percent, the unit
// tests must reach.
const MinCoverage = 80

// pytestModules are what the unit-test run imports.
var pytestModules = []string{"pytest", "pytest_cov", "xdist", "pytest_timeout"}

// defaultTestTimeout applies when the project's pytest settings name none.
const defaultTestTimeout = 120

// pytestInputs are what the Python unit tests read (.coveragerc: coverage's
// settings, which decide the coverage the check enforces).
var pytestInputs = []string{"src/**", "tests/unit/**", "tests/integration/**", "tests/conftest.py",
	"pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini", "conftest.py", ".coveragerc"}

func pytestName(version string) string { return "pytest-" + version }

// PytestMatrix returns one pytest task per Python version of the matrix.
func PytestMatrix(cfg Config) []pipeline.Task {
	var tasks []pipeline.Task
	for _, v := range cfg.pythons() {
		tasks = append(tasks, Pytest(cfg, v))
	}
	return tasks
}

// Pytest runs tests/unit on one Python version with coverage (XML, HTML,
// terminal; at least MinCoverage), JUnit XML, xdist and per-test timeouts.
// A version that is not installed, or whose interpreter lacks the test
// modules and is not Debian's (a pyenv build), is skipped with what it
// lacks, or fails in strict mode.
func Pytest(cfg Config, version string) pipeline.Task {
	name := pytestName(version)
	pys := cfg.python()
	return pipeline.Task{
		Name: name,
		Inputs: pipeline.Inputs{
			Files: pytestInputs,
			// Strict mode only turns a skip (never cached) into a failure,
			// so it is not part of the key.
			Config:  []string{"python=" + version, fmt.Sprintf("min-coverage=%d", MinCoverage)},
			Version: pythonToolsVersion(pys, version, pytestModules),
		},
		Run: func(ctx context.Context, t *pipeline.T) error {
			if !isDir(filepath.Join(cfg.Root, "tests", "unit")) {
				return pipeline.Skip("no tests/unit directory")
			}
			py, err := pys.EnsureVersion(ctx, version, logTo(t), pytestModules...)
			if toolchain.IsNoInterpreter(err) {
				if cfg.Strict {
					return fmt.Errorf("python%s not found (strict mode: every matrix entry must run; install it or set CI_PYTHON_VERSIONS)", version)
				}
				return pipeline.Skip("python%s not found", version)
			}
			var missing *toolchain.MissingError
			if errors.As(err, &missing) && missing.NotDebian && !cfg.Strict {
				// An interpreter Debian's packages cannot equip (a pyenv
				// build): say what it lacks and how to get it, and skip
				// like a missing interpreter.
				t.Printf("%s", missing.Error())
				return pipeline.Skip("%s", missing.What)
			}
			if err != nil {
				return err
			}
			junit := filepath.Join(t.Artifacts(), "tests", name+".xml")
			covDir := filepath.Join(t.Artifacts(), "coverage", "python-"+version)
			for _, d := range []string{filepath.Dir(junit), covDir} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return err
				}
			}
			_ = os.Remove(junit)
			covData := filepath.Join(cfg.Root, ".cache", "coverage", version)
			if err := os.MkdirAll(covData, 0o755); err != nil {
				return err
			}
			args := []string{"-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider",
				"-n", "auto",
				"--cov=src", "--cov-branch", "--cov-report=term-missing",
				"--cov-report=xml:" + filepath.Join(covDir, "coverage.xml"),
				"--cov-report=html:" + filepath.Join(covDir, "html"),
				fmt.Sprintf("--cov-fail-under=%d", MinCoverage),
				"--junitxml=" + junit, "-o", "junit_family=xunit1"}
			if !timeoutConfigured(cfg.Root) {
				args = append(args, fmt.Sprintf("--timeout=%d", defaultTestTimeout))
			}
			var out bytes.Buffer
			runErr := toolchain.Run(ctx, toolchain.Cmd{
				Name: py.Path, Args: args, Dir: cfg.Root,
				Env:    []string{"COVERAGE_FILE=" + filepath.Join(covData, ".coverage"), "PYTHONDONTWRITEBYTECODE=1"},
				Stdout: writerPair(t.Out(), &out), Stderr: writerPair(t.Out(), &out),
			})
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res := parsePytestOutput(out.String())
			failures := pytestFailures(junit, cfg.Root)
			for _, f := range failures {
				t.Finding(f)
			}
			t.Summary("%s", res.summary())
			return res.verdict(runErr, failures, py.Path)
		},
	}
}

// timeoutConfigured reports whether the project sets pytest-timeout's
// timeout itself (its setting then wins over the default here).
func timeoutConfigured(root string) bool {
	for _, f := range []string{"pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini"} {
		// #nosec G304 -- fixed configuration file names at the repository root
		b, err := os.ReadFile(filepath.Join(root, f))
		if err == nil && regexp.MustCompile(`(?m)^\s*timeout\s*=`).Match(b) {
			return true
		}
	}
	return false
}

type pytestResult struct {
	counts    string  // "41 passed, 1 failed"
	failed    int     // failed + errors
	coverage  float64 // total, -1 when not reported
	covFailed bool    // pytest-cov's fail-under tripped
	noTests   bool
}

var (
	pytestResultLine = regexp.MustCompile(`(?m)^=*\s*((?:\d+ (?:passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?)(?:, )?)+) in [0-9.]+s`)
	pytestCount      = regexp.MustCompile(`(\d+) (failed|errors?)`)
	coverageTotal    = regexp.MustCompile(`(?m)^TOTAL\s+.*?(\d+(?:\.\d+)?)%\s*$`)
	coverageFailLine = regexp.MustCompile(`(?m)FAIL Required test coverage of [0-9.]+% not reached\. Total coverage: ([0-9.]+)%`)
	noTestsRan       = regexp.MustCompile(`(?m)^=*\s*no tests ran`)
)

// parsePytestOutput reads the counts and the coverage off pytest's
// terminal output.
func parsePytestOutput(out string) pytestResult {
	r := pytestResult{coverage: -1}
	if m := pytestResultLine.FindAllStringSubmatch(out, -1); len(m) > 0 {
		r.counts = strings.TrimSuffix(m[len(m)-1][1], ", ")
		for _, c := range pytestCount.FindAllStringSubmatch(r.counts, -1) {
			n, _ := strconv.Atoi(c[1])
			r.failed += n
		}
	}
	if m := coverageTotal.FindStringSubmatch(out); m != nil {
		r.coverage, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := coverageFailLine.FindStringSubmatch(out); m != nil {
		r.covFailed = true
		r.coverage, _ = strconv.ParseFloat(m[1], 64)
	}
	r.noTests = noTestsRan.MatchString(out)
	return r
}

func (r pytestResult) summary() string {
	var parts []string
	if r.counts != "" {
		parts = append(parts, r.counts)
	}
	if r.coverage >= 0 {
		parts = append(parts, fmt.Sprintf("coverage %s%%", strconv.FormatFloat(r.coverage, 'f', -1, 64)))
	}
	if len(parts) == 0 && r.noTests {
		return "no tests ran"
	}
	return strings.Join(parts, ", ")
}

// verdict turns the run into the check's error, most specific first.
func (r pytestResult) verdict(runErr error, failures []pipeline.Finding, python string) error {
	if runErr == nil {
		return nil
	}
	switch {
	case r.failed > 0:
		msg := fmt.Sprintf("%d test(s) failed", r.failed)
		if len(failures) > 0 {
			msg += fmt.Sprintf("; first: %s:%d %s: %s", failures[0].File, failures[0].Line, failures[0].Rule, failures[0].Message)
		}
		return fmt.Errorf("%s (see artifacts/tests)", msg)
	case r.covFailed || (r.coverage >= 0 && r.coverage < MinCoverage):
		return fmt.Errorf("coverage %s%% is below the required %d%% (see artifacts/coverage/ for the missed lines)",
			strconv.FormatFloat(r.coverage, 'f', -1, 64), MinCoverage)
	case r.noTests:
		return fmt.Errorf("no tests ran under tests/unit")
	default:
		return fmt.Errorf("pytest on %s: %w", python, runErr)
	}
}

// pytestFailures reads failed and errored cases, with file:line, from the
// JUnit report (xunit1 family, which records both).
func pytestFailures(junitPath, root string) []pipeline.Finding {
	// #nosec G304 -- the JUnit report this check just had pytest write under artifacts/
	f, err := os.Open(junitPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	suites, err := readJUnit(f)
	if err != nil {
		return nil
	}
	var out []pipeline.Finding
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			m := c.Failure
			if m == nil {
				m = c.Error
			}
			if m == nil {
				continue
			}
			line := c.Line + 1 // pytest records 0-based lines
			file, ln := failureSite(m.Body, c.File)
			if ln > 0 {
				line = ln
			}
			msg := strings.TrimSpace(m.Message)
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			out = append(out, pipeline.Finding{File: relURI(root, file), Line: line, Rule: c.Name, Message: msg})
		}
	}
	return out
}

// failureSite finds "path.py:12: AssertionError" in a traceback: the
// last frame in the test's file is the failing line.
var tracebackSite = regexp.MustCompile(`(?m)^([\w./-]+\.py):(\d+): `)

func failureSite(body, testFile string) (string, int) {
	file, line := testFile, 0
	for _, m := range tracebackSite.FindAllStringSubmatch(body, -1) {
		if testFile == "" || strings.HasSuffix(m[1], testFile) || strings.HasSuffix(testFile, m[1]) {
			file, line = m[1], atoiSafe(m[2])
		}
	}
	return file, line
}
