// Package checks is the CI of this repository: the checks `mage ci` runs,
// each a pipeline task (or a few) with the inputs that decide its cache
// key, and Run, which selects and runs them and writes the report.
//
// Reading order:
//
//  1. checks.go declares every check once in Declared: its name, the
//     sentence of its mage target and the function that builds its tasks;
//     DeclaredGroups declares each group with its sentence and its checks.
//     The summary order, the groups and the ci: mage targets all come
//     from these two lists; citargets generates the targets into
//     magefiles/ci_targets.go (go generate ./magefiles/checks; a test
//     fails while that file is stale).
//  2. One file per check builds its pipeline.Task: gotest.go (go-test-<group>
//     per group of packages, and go-coverage), pytest.go, audit.go
//     (govulncheck, req-audit), goquality.go (go-vet, staticcheck),
//     gofmt.go, pyquality.go, workflows.go, security.go (gosec, bandit),
//     secrets.go, bundle.go. Each task's Inputs form its cache key: the
//     pipeline hashes the contents of the Files patterns, the paths of the
//     Names patterns, the Config strings, the Env values, the tools'
//     versions and what Extra decides at run time; a pass with the same
//     key is reported as cached. Shared by several checks: gopkgs.go (the
//     module's package graph, read without the go command), io.go (tool
//     output and the Python tools' versions), sarif.go, junit.go and
//     vulnignore.go (.vuln-ignore.yml); the osv and secretscan packages
//     read advisories and find secrets.
//  3. run.go: Run reads the flags and the environment into a Config,
//     builds the declared tasks, expands -only and runs the selection.
//
// Groups: a Group lists its checks, and a check whose tasks carry other
// names (go-test, pytest) is itself the group of them. `-only=` and a group's mage target expand a group into its tasks;
// pipeline.Select adds what they depend on (bundle runs after bandit, gosec
// and secrets).
//
//	unit      go-test (go-test-<group> per group of packages: race,
//	          coverage, JUnit; and go-coverage, the merged profile) and
//	          pytest (pytest-<version> per matrix entry)
//	audit     govulncheck (Go module), req-audit (requirements*.txt)
//	quality   staticcheck, go-vet, gofmt, pylint, mypy, black, isort, flake8,
//	          workflows (actionlint over .github/workflows)
//	security  gosec (Go code, SARIF), bandit (src/, SARIF)
//
// secrets (gitleaks over the working tree, or every commit with History)
// and bundle (databricks.yml and resources/*.yml) belong to no group.
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
