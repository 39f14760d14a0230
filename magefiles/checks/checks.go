package checks

import (
	"fmt"
	"sort"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
)

//go:generate go run ./citargets

// Check declares one CI check: the name `mage ci -only=` and its mage
// target select it by, the sentence its target shows in `mage -l`, and
// the tasks it runs. A check that runs one task runs it under its own
// name; a check that runs several (a Go test group each, a pytest per
// matrix version) is also the group of them.
type Check struct {
	Name string
	// Doc completes "ci:<target>" in `mage -l`: one sentence without the
	// target's name.
	Doc string
	// OwnTarget means magefiles/ci.go writes the check's mage target by
	// hand, because it takes flags; Doc is then the comment there.
	OwnTarget bool
	Tasks     func(Config) []pipeline.Task
}

// Group declares a name that selects several checks, in the order
// Checks lists them.
type Group struct {
	Name   string
	Doc    string // as Check.Doc
	Checks []string
}

// Declared lists every check, in the order the summary lists them. The
// order is also the start order of a -j=1 run and of a checkout's first
// run, so the longest checks lead (go-test, govulncheck, staticcheck,
// gosec) and the short ones fill the gaps; later parallel runs start the
// longest first by their last times (package pipeline). bundle waits for
// the security and secret scans (its Deps).
var Declared = []Check{
	{Name: "go-test", Tasks: GoTests,
		Doc: "runs the Go tests with -race and coverage (JUnit in artifacts/tests)."},
	{Name: "pytest", Tasks: PytestMatrix,
		Doc: fmt.Sprintf("runs the Python unit tests on each matrix version, with coverage >= %d%%.", MinCoverage)},

	{Name: "govulncheck", Tasks: single(Govulncheck),
		Doc: "reports known vulnerabilities reachable from the Go code."},
	{Name: "req-audit", Tasks: single(ReqAudit),
		Doc: "checks requirements.txt against the OSV advisories in CI_VULN_DB."},

	{Name: "staticcheck", Tasks: single(Staticcheck),
		Doc: "runs the pinned staticcheck on every package."},
	{Name: "go-vet", Tasks: single(GoVet),
		Doc: "runs go vet on every package, mage targets included."},
	{Name: "gofmt", Tasks: single(Gofmt),
		Doc: "checks that every Go file is gofmt-formatted."},
	{Name: "pylint", Tasks: single(Pylint),
		Doc: "runs pylint on src/."},
	{Name: "mypy", Tasks: single(Mypy),
		Doc: "type-checks src/ and tests/ with mypy."},
	{Name: "black", Tasks: single(Black),
		Doc: "checks the Python formatting with black."},
	{Name: "isort", Tasks: single(Isort),
		Doc: "checks the Python import order with isort."},
	{Name: "flake8", Tasks: single(Flake8),
		Doc: "runs flake8 on the Python code."},
	{Name: "workflows", Tasks: single(Workflows),
		Doc: "lints .github/workflows with the pinned actionlint."},

	{Name: "gosec", Tasks: single(Gosec),
		Doc: "scans the Go code with gosec (artifacts/security/gosec.sarif)."},
	{Name: "bandit", Tasks: single(Bandit),
		Doc: "scans src/ with bandit (artifacts/security/bandit.sarif)."},

	{Name: "secrets", OwnTarget: true, Tasks: single(Secrets)},

	{Name: "bundle", Tasks: single(Bundle),
		Doc: "validates databricks.yml and resources/*.yml, after the security and secret scans."},
}

// DeclaredGroups lists the groups and the checks each selects.
var DeclaredGroups = []Group{
	{Name: "unit", Checks: []string{"go-test", "pytest"},
		Doc: "runs the unit tests: go-test and the pytest matrix."},
	{Name: "audit", Checks: []string{"govulncheck", "req-audit"},
		Doc: "checks the Go module and requirements.txt against local vulnerability databases."},
	{Name: "quality", Checks: []string{"gofmt", "go-vet", "staticcheck", "black", "isort", "flake8", "pylint", "mypy", "workflows"},
		Doc: "runs the linters: gofmt, go vet, staticcheck, black, isort, flake8, pylint, mypy, actionlint."},
	{Name: "security", Checks: []string{"bandit", "gosec"},
		Doc: "runs the security scans: bandit on src/ and gosec on the Go code (SARIF in artifacts/security)."},
}

func single(task func(Config) pipeline.Task) func(Config) []pipeline.Task {
	return func(cfg Config) []pipeline.Task { return []pipeline.Task{task(cfg)} }
}

// assemble runs the declaration for cfg: every check's tasks in declared
// order, and each group's task names.
func assemble(cfg Config) ([]pipeline.Task, map[string][]string) {
	var tasks []pipeline.Task
	groups := map[string][]string{}
	taskNames := map[string][]string{}
	for _, c := range Declared {
		own := c.Tasks(cfg)
		names := make([]string, 0, len(own))
		for _, t := range own {
			names = append(names, t.Name)
		}
		if len(names) != 1 || names[0] != c.Name {
			groups[c.Name] = names
		}
		taskNames[c.Name] = names
		tasks = append(tasks, own...)
	}
	for _, g := range DeclaredGroups {
		var names []string
		for _, c := range g.Checks {
			names = append(names, taskNames[c]...)
		}
		groups[g.Name] = names
	}
	return tasks, groups
}

// All returns every check's tasks, in the order the summary lists them.
func All(cfg Config) []pipeline.Task {
	tasks, _ := assemble(cfg)
	return tasks
}

// Groups maps a group name to the checks it selects.
func Groups(cfg Config) map[string][]string {
	_, groups := assemble(cfg)
	return groups
}

// Expand replaces group names by their checks; other names pass through.
func Expand(cfg Config, names []string) []string {
	return expand(Groups(cfg), names)
}

func expand(groups map[string][]string, names []string) []string {
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
	tasks, groups := assemble(cfg)
	names := pipeline.TaskNames(tasks)
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	return names
}
