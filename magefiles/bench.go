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

// Ci measures mage ci on a fresh clone of HEAD: fresh, cold, warm, after a Go and a Python edit, -j=1; -base=<commit> adds its cold run, -caches=<dir> reuses built tools (artifacts/bench/ci.*).
func (Bench) Ci(ctx context.Context, base, caches *string) error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	o := checks.BenchOptions{}
	if base != nil {
		o.Base = *base
	}
	if caches != nil {
		o.Caches = *caches
	}
	res, err := checks.BenchCI(ctx, root, o)
	if err != nil {
		return err
	}
	fmt.Print(res.Markdown())
	return nil
}
