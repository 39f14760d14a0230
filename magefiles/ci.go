//go:build mage

package main

import (
	"context"

	"github.com/magefile/mage/mg"

	"github.com/hitl-mlops/interrupt-agent/magefiles/checks"
	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

// Ci runs every CI check in parallel with one summary (flags: -j=N -failfast -nocache -strict).
func Ci(ctx context.Context, j *int, failfast, nocache, strict *bool) error {
	return runChecks(ctx, checks.RunOptions{Jobs: j, FailFast: failfast, NoCache: nocache, Strict: strict})
}

// Test runs the Go tests and the Python unit tests (the checks go-test and pytest).
func Test(ctx context.Context) error {
	return runChecks(ctx, checks.RunOptions{Only: []string{"go-test", "pytest"}})
}

// CI holds one target per check, for running a single check and what it needs.
type CI mg.Namespace

// Gofmt checks that every Go file is gofmt-formatted.
func (CI) Gofmt(ctx context.Context) error { return runCheck(ctx, "gofmt") }

// GoTest runs the Go tests with -race and coverage.
func (CI) GoTest(ctx context.Context) error { return runCheck(ctx, "go-test") }

// Pytest runs the Python unit tests with coverage (>= 80%) and JUnit output.
func (CI) Pytest(ctx context.Context) error { return runCheck(ctx, "pytest") }

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
