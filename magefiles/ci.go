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

// CI holds one target per check and group, for running it and what it
// needs. Most are generated into ci_targets.go from the checks declared in
// magefiles/checks (go generate ./magefiles/checks); the ones below take
// flags.
type CI mg.Namespace

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
