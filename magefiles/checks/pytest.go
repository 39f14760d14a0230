package checks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// pytestModules are what the unit-test run imports.
var pytestModules = []string{"pytest", "pytest_cov", "xdist", "pytest_timeout"}

// Pytest runs the Python unit tests with coverage and a JUnit report.
func Pytest(cfg Config) pipeline.Task {
	return pipeline.Task{
		Name: "pytest",
		Inputs: pipeline.Inputs{
			Files:   []string{"src/**", "tests/unit/**", "tests/integration/**", "pyproject.toml", "setup.cfg", "requirements.txt"},
			Version: func(ctx context.Context) (string, error) { return pythonToolVersion(ctx, pytestModules) },
		},
		Run: func(ctx context.Context, t *pipeline.T) error {
			py, err := toolchain.EnsurePython(ctx, func(s string) { t.Printf("%s", s) }, pytestModules...)
			if err != nil {
				return err
			}
			junit := filepath.Join(t.Artifacts(), "tests", "pytest.xml")
			covDir := filepath.Join(t.Artifacts(), "coverage")
			if err := os.MkdirAll(filepath.Dir(junit), 0o755); err != nil {
				return err
			}
			var out strings.Builder
			err = toolchain.Run(ctx, toolchain.Cmd{
				Name: py.Path,
				Args: []string{"-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider",
					"-n", "auto", "--timeout=120",
					"--cov=src", "--cov-report=term", "--cov-report=xml:" + filepath.Join(covDir, "coverage.xml"),
					"--cov-report=html:" + filepath.Join(covDir, "html"), "--cov-fail-under=80",
					"--junitxml=" + junit},
				Dir:    cfg.Root,
				Env:    []string{"COVERAGE_FILE=" + filepath.Join(cfg.Root, ".cache", "coverage", ".coverage"), "PYTHONDONTWRITEBYTECODE=1"},
				Stdout: writerPair(t.Out(), &out),
				Stderr: t.Out(),
			})
			t.Summary("%s", pytestSummary(out.String()))
			if err != nil {
				return fmt.Errorf("pytest on %s: %w", py.Path, err)
			}
			return nil
		},
	}
}

var (
	pytestResultLine = regexp.MustCompile(`(?m)^=*\s*((?:\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed|warnings?)(?:, )?)+) in [0-9.]+s`)
	coverageTotal    = regexp.MustCompile(`(?m)^TOTAL\s+.*?(\d+(?:\.\d+)?)%\s*$`)
)

// pytestSummary condenses pytest's output to "41 passed, coverage 93%".
func pytestSummary(out string) string {
	var parts []string
	if m := pytestResultLine.FindAllStringSubmatch(out, -1); len(m) > 0 {
		parts = append(parts, strings.TrimSuffix(m[len(m)-1][1], ", "))
	}
	if m := coverageTotal.FindStringSubmatch(out); m != nil {
		parts = append(parts, "coverage "+m[1]+"%")
	}
	return strings.Join(parts, ", ")
}

// pythonToolVersion is the cache-key part for a Python tool set: the
// interpreter and the modules' versions.
func pythonToolVersion(ctx context.Context, modules []string) (string, error) {
	py, err := toolchain.FindPython(ctx, "", modules...)
	if err != nil {
		return "", err
	}
	script := "import importlib.metadata as m, sys\nprint(sys.version.split()[0])\nfor d in sys.argv[1:]:\n    try: print(d, m.version(d))\n    except Exception: print(d, '?')\n"
	return toolchain.Output(ctx, toolchain.Cmd{Name: py.Path, Args: append([]string{"-c", script}, distNames(modules)...)})
}

// distNames maps import names to distribution names for version lookup.
func distNames(modules []string) []string {
	names := map[string]string{"pytest_cov": "pytest-cov", "xdist": "pytest-xdist", "pytest_timeout": "pytest-timeout"}
	out := make([]string, len(modules))
	for i, m := range modules {
		if n, ok := names[m]; ok {
			out[i] = n
		} else {
			out[i] = m
		}
	}
	return out
}
