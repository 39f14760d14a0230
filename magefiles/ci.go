//go:build mage

package main

import (
	"context"
	"fmt"

	"github.com/magefile/mage/mg"

	"github.com/hitl-mlops/interrupt-agent/magefiles/checks"
	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

// Ci runs every CI check in parallel with one summary (flags: -j=N -failfast -nocache -strict -history -only=check,group).
func Ci(ctx context.Context, j *int, failfast, nocache, strict, history *bool, only *string) error {
	ro := checks.RunOptions{Jobs: j, FailFast: failfast, NoCache: nocache, Strict: strict, History: history}
	if only != nil {
		ro.Only = checks.SplitList(*only)
	}
	return runChecks(ctx, ro)
}

// Test runs the Go tests and the Python unit tests (the checks go-test and pytest).
func Test(ctx context.Context) error {
	return runChecks(ctx, checks.RunOptions{Only: []string{"go-test", "pytest"}})
}

// CI holds one target per check, for running a single check and what it needs.
type CI mg.Namespace

// Security runs the security scans: bandit on src/ and gosec on the Go code (SARIF in artifacts/security).
func (CI) Security(ctx context.Context) error { return runCheck(ctx, "security") }

// Bandit scans src/ with bandit (artifacts/security/bandit.sarif).
func (CI) Bandit(ctx context.Context) error { return runCheck(ctx, "bandit") }

// Gosec scans the Go code with gosec (artifacts/security/gosec.sarif).
func (CI) Gosec(ctx context.Context) error { return runCheck(ctx, "gosec") }

// Audit checks the Go module and requirements.txt against local vulnerability databases.
func (CI) Audit(ctx context.Context) error { return runCheck(ctx, "audit") }

// Govulncheck reports known vulnerabilities reachable from the Go code.
func (CI) Govulncheck(ctx context.Context) error { return runCheck(ctx, "govulncheck") }

// ReqAudit checks requirements.txt against the OSV advisories in CI_VULN_DB.
func (CI) ReqAudit(ctx context.Context) error { return runCheck(ctx, "req-audit") }

// Secrets scans the working tree for secrets (-history: every commit instead).
func (CI) Secrets(ctx context.Context, history *bool) error {
	return runChecks(ctx, checks.RunOptions{Only: []string{"secrets"}, History: history})
}

// SecretsBaseline accepts every current secret-scan finding into .gitleaks-baseline.json (review the diff!).
func (CI) SecretsBaseline(ctx context.Context, history *bool, reason *string) error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	why := "accepted by a maintainer"
	if reason != nil && *reason != "" {
		why = *reason
	}
	added, err := checks.AcceptSecrets(ctx, root, history != nil && *history, why)
	if err != nil {
		return err
	}
	for _, f := range added {
		fmt.Printf("accepted %s %s (%s)\n", f.Location(), f.Rule, f.Fingerprint)
	}
	fmt.Printf("%d finding(s) added to .gitleaks-baseline.json\n", len(added))
	return nil
}

// Unit runs the unit tests: go-test and the pytest matrix.
func (CI) Unit(ctx context.Context) error { return runCheck(ctx, "unit") }

// GoTest runs the Go tests with -race and coverage (JUnit in artifacts/tests).
func (CI) GoTest(ctx context.Context) error { return runCheck(ctx, "go-test") }

// Pytest runs the Python unit tests on each matrix version, with coverage >= 80%.
func (CI) Pytest(ctx context.Context) error { return runCheck(ctx, "pytest") }

// Quality runs the linters: gofmt, go vet, staticcheck, black, isort, flake8, pylint, mypy, actionlint.
func (CI) Quality(ctx context.Context) error { return runCheck(ctx, "quality") }

// Gofmt checks that every Go file is gofmt-formatted.
func (CI) Gofmt(ctx context.Context) error { return runCheck(ctx, "gofmt") }

// GoVet runs go vet on every package, mage targets included.
func (CI) GoVet(ctx context.Context) error { return runCheck(ctx, "go-vet") }

// Staticcheck runs the pinned staticcheck on every package.
func (CI) Staticcheck(ctx context.Context) error { return runCheck(ctx, "staticcheck") }

// Black checks the Python formatting with black.
func (CI) Black(ctx context.Context) error { return runCheck(ctx, "black") }

// Isort checks the Python import order with isort.
func (CI) Isort(ctx context.Context) error { return runCheck(ctx, "isort") }

// Flake8 runs flake8 on the Python code.
func (CI) Flake8(ctx context.Context) error { return runCheck(ctx, "flake8") }

// Pylint runs pylint on src/.
func (CI) Pylint(ctx context.Context) error { return runCheck(ctx, "pylint") }

// Mypy type-checks src/ and tests/ with mypy.
func (CI) Mypy(ctx context.Context) error { return runCheck(ctx, "mypy") }

// Workflows lints .github/workflows with the pinned actionlint.
func (CI) Workflows(ctx context.Context) error { return runCheck(ctx, "workflows") }

// Bundle validates databricks.yml and resources/*.yml, after the security and secret scans.
func (CI) Bundle(ctx context.Context) error { return runCheck(ctx, "bundle") }

func runCheck(ctx context.Context, name string) error {
	return runChecks(ctx, checks.RunOptions{Only: []string{name}})
}

func runChecks(ctx context.Context, ro checks.RunOptions) error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	ro.Verbose = mg.Verbose()
	_, err = checks.Run(ctx, root, ro)
	return err
}
