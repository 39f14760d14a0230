//go:build mage

package main

import (
	"context"
	"fmt"

	"github.com/magefile/mage/mg"

	"github.com/hitl-mlops/interrupt-agent/magefiles/checks"
	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

// Bench holds benchmarks of the automation itself.
type Bench mg.Namespace

// Ci measures mage ci here: cold parallel vs -j 1, warm all-cached, runner overhead (artifacts/bench/ci.*).
func (Bench) Ci(ctx context.Context) error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	res, err := checks.BenchCI(ctx, root, checks.BenchOptions{})
	if err != nil {
		return err
	}
	fmt.Print(res.Markdown())
	return nil
}
