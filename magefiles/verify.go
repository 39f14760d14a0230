//go:build mage

package main

import (
	"context"

	"github.com/magefile/mage/mg"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
)

// Verify holds the checks of a deployed endpoint, one target per environment.
type Verify mg.Namespace

// Dev checks the dev endpoint: integration cases and metrics export (-load adds the load test, -smoke runs the smoke cases only).
func (Verify) Dev(ctx context.Context, load, smoke *bool) error {
	return runVerify(ctx, cd.EnvDev, load, smoke)
}

// Staging checks the staging endpoint: integration cases, load test against the bundle's thresholds, metrics export (-smoke: smoke cases only).
func (Verify) Staging(ctx context.Context, smoke *bool) error {
	return runVerify(ctx, cd.EnvStaging, nil, smoke)
}

// Prod checks the prod endpoint: integration cases and metrics export (-load adds the load test, -smoke runs the smoke cases only).
func (Verify) Prod(ctx context.Context, load, smoke *bool) error {
	return runVerify(ctx, cd.EnvProd, load, smoke)
}

func runVerify(ctx context.Context, env string, load, smoke *bool) error {
	o, err := cdOptions(env, nil)
	if err != nil {
		return err
	}
	o.Load, o.Smoke = isSet(load), isSet(smoke)
	return cd.RunVerify(ctx, o)
}
