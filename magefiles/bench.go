//go:build mage

package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/magefile/mage/mg"

	"github.com/hitl-mlops/interrupt-agent/magefiles/artifacts"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bench/canary"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bench/ci"
	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/judge"
)

// Bench holds benchmarks of the automation itself.
type Bench mg.Namespace

// Ci measures mage ci on a fresh clone of HEAD: fresh, cold, warm, after a Go and a Python edit, -j=1; -base=<commit> adds its cold run, -caches=<dir> reuses built tools (artifacts/bench/ci.*).
func (Bench) Ci(ctx context.Context, base, caches *string) error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	o := ci.Options{}
	if base != nil {
		o.Base = *base
	}
	if caches != nil {
		o.Caches = *caches
	}
	res, err := ci.Measure(ctx, root, o)
	if err != nil {
		return err
	}
	fmt.Print(res.Markdown())
	return nil
}

// Canary simulates canary verdicts from per-minute binomial counts, the sequential judge beside a fixed-threshold one (artifacts/bench/canary.*).
func (Bench) Canary() error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	rep := canary.Simulate(judge.DefaultConfig(), canary.DefaultThresholdJudge(), canary.DefaultGrid())
	if err := rep.Write(filepath.Join(artifacts.Dir(root), "bench")); err != nil {
		return err
	}
	fmt.Print(rep.Markdown())
	return nil
}
