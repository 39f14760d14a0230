// Package checks defines the CI checks of this repository as pipeline tasks:
// one file per check, each declaring the inputs that decide its cache key.
//
// The checks and their groups (a group name selects all its checks):
//
//	unit      go-test: go-test-<group> per group of packages (race,
//	          coverage, JUnit; see gotest.go) and go-coverage (the merged
//	          profile); pytest-<version> per matrix entry
//	audit     govulncheck (Go module), req-audit (requirements*.txt)
//	quality   staticcheck, go-vet, gofmt, pylint, mypy, black, isort, flake8,
//	          workflows (actionlint over .github/workflows)
//	security  gosec (Go code, SARIF), bandit (src/, SARIF)
//	secrets   gitleaks over the working tree (or every commit with History)
//	bundle    databricks.yml and resources/*.yml, after security and secrets
//
// go-test-rest and gosec key each package apart (its import closure): an
// edit runs them on the packages it can change and reports the others from
// their records (gotestparts.go, gosecparts.go). govulncheck is keyed on
// the linked packages an advisory covers, every Go file once there is one
// (audit.go).
//
// Reports: artifacts/ci-report.json (every run), artifacts/security/*.sarif,
// artifacts/tests/*.xml (JUnit), artifacts/coverage/ (Cobertura XML and
// HTML per Python version, go.out and go.html), artifacts/audit/.
//
// Settings (flags of `mage ci` win over the environment):
//
//	-j=N, CI_JOBS                 parallel checks (default: one per CPU)
//	-failfast, CI_FAIL_FAST       cancel the rest after the first failure
//	-nocache, CI_NO_CACHE         run every check, ignoring cached passes
//	-strict, CI_STRICT            a missing matrix interpreter or vulnerability
//	                              database fails instead of skipping
//	-history, CI_SECRETS_HISTORY  secret scan over every commit
//	-only=a,b                     run these checks or groups (and their deps)
//	CI_PYTHON_VERSIONS            the pytest matrix (default 3.9,3.10,3.11)
//	CI_SECURITY_SEVERITY          low (default), medium or high: the lowest
//	                              bandit/gosec severity that fails
//	CI_VULN_DB                    OSV advisories for PyPI (also read:
//	                              OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY)
//	CI_GOVULN_DB                  a govulncheck database (default: the pinned
//	                              golang.org/x/vulndb module, indexed locally)
//	CI_OFFLINE                    never fetch the Go vulnerability data
//
// Accepted findings are files in the repository, reviewed like code:
// .gitleaks-baseline.json (secrets, by fingerprint) and .vuln-ignore.yml
// (vulnerabilities, each with a reason and an expiry date).
package checks

import (
	"os"
	"sort"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// DefaultPythons is the unit-test matrix, as in the seed's CI workflow.
var DefaultPythons = []string{"3.9", "3.10", "3.11"}

// Config holds what the checks need to know about this run.
type Config struct {
	Root   string              // repository root
	Strict bool                // CI mode: a skipped matrix entry or a missing database is a failure
	Getenv func(string) string // environment lookup (os.Getenv by default)

	// History makes the secret scan read every commit, not only the
	// working tree.
	History bool
	// Pythons is the unit-test matrix; empty means DefaultPythons (or
	// CI_PYTHON_VERSIONS, comma-separated).
	Pythons []string
	// Bundle validates databricks.yml and resources/; nil means
	// DefaultBundleValidator (see bundle.go).
	Bundle *BundleValidator
	// ToolsDir holds the pinned Go tools; empty means <Root>/.cache/tools.
	ToolsDir string
	// Python finds the interpreters and remembers what they have; nil
	// means one with its disk cache in <Root>/.cache/python. Share one
	// across the checks of a run so each interpreter is asked once.
	Python *toolchain.Pythons
}

func (c Config) toolsDir() string {
	if c.ToolsDir != "" {
		return c.ToolsDir
	}
	return toolchain.ToolsDir(c.Root)
}

func (c Config) python() *toolchain.Pythons {
	if c.Python != nil {
		return c.Python
	}
	return toolchain.NewPythons(toolchain.PythonCacheDir(c.Root))
}

func (c Config) getenv(k string) string {
	if c.Getenv == nil {
		return os.Getenv(k)
	}
	return c.Getenv(k)
}

func (c Config) pythons() []string {
	if len(c.Pythons) > 0 {
		return c.Pythons
	}
	if v := SplitList(c.getenv("CI_PYTHON_VERSIONS")); len(v) > 0 {
		return v
	}
	return DefaultPythons
}

// SplitList splits a comma-separated list, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// All returns every check, in the order the summary lists them. The
// order is also the start order when a slot is free, so the longest
// checks lead (go-test, govulncheck, staticcheck, gosec) and the short
// ones fill the gaps; bundle waits for the security and secret scans.
func All(cfg Config) []pipeline.Task {
	// unit tests
	tasks := GoTests(cfg)
	tasks = append(tasks, PytestMatrix(cfg)...)
	tasks = append(tasks,
		// dependency audit
		Govulncheck(cfg),
		ReqAudit(cfg),
		// code quality
		Staticcheck(cfg),
		GoVet(cfg),
		Gofmt(cfg),
		Pylint(cfg),
		Mypy(cfg),
		Black(cfg),
		Isort(cfg),
		Flake8(cfg),
		Workflows(cfg),
		// security
		Gosec(cfg),
		Bandit(cfg),
		// secrets
		Secrets(cfg),
		// bundle, after security and secrets as in the seed
		Bundle(cfg),
	)
	return tasks
}

// Groups maps a group name to the checks it selects.
func Groups(cfg Config) map[string][]string {
	var pytests []string
	for _, v := range cfg.pythons() {
		pytests = append(pytests, pytestName(v))
	}
	goTests := goTestNames(cfg)
	return map[string][]string{
		"security": {"bandit", "gosec"},
		"audit":    {"govulncheck", "req-audit"},
		"go-test":  goTests,
		"unit":     append(append([]string(nil), goTests...), pytests...),
		"pytest":   pytests,
		"quality":  {"gofmt", "go-vet", "staticcheck", "black", "isort", "flake8", "pylint", "mypy", "workflows"},
	}
}

// Expand replaces group names by their checks; other names pass through.
func Expand(cfg Config, names []string) []string {
	groups := Groups(cfg)
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		members, ok := groups[n]
		if !ok {
			members = []string{n}
		}
		for _, m := range members {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// Names lists the check and group names, for menus and error messages.
func Names(cfg Config) []string {
	names := pipeline.TaskNames(All(cfg))
	for g := range Groups(cfg) {
		names = append(names, g)
	}
	sort.Strings(names)
	return names
}
