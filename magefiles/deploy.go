//go:build mage

package main

import (
	"context"

	"github.com/fatih/color"
	"github.com/magefile/mage/mg"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

// Deploy holds the CD deploy targets, one per environment.
type Deploy mg.Namespace

// Dev deploys the release tagged on HEAD to dev: bundle, training run, model version, endpoint (flags: -release=vX.Y.Z -engine=sdk|cli).
func (Deploy) Dev(ctx context.Context, release, engine *string) error {
	o, err := cdOptions(cd.EnvDev, engine)
	if err != nil {
		return err
	}
	if release != nil {
		o.Release = *release
	}
	return cd.Deploy(ctx, o)
}

// Staging promotes the model version dev verified for this release and serves it (approval: a terminal, the GitHub environment, or -yes).
func (Deploy) Staging(ctx context.Context, yes *bool, engine *string) error {
	o, err := cdOptions(cd.EnvStaging, engine)
	if err != nil {
		return err
	}
	o.Yes = isSet(yes)
	return cd.Deploy(ctx, o)
}

// Prod backs up prod, promotes what staging verified and validation passed (stable tag on main) and rolls it out as a 10% canary judged by metrics, then 100% or abort (approval: terminal, GitHub environment, or -yes; -plan=FILE applies a saved plan or refuses; -override="why" goes ahead without a passing validation verdict, recorded).
func (Deploy) Prod(ctx context.Context, yes *bool, engine, plan, override *string) error {
	o, err := cdOptions(cd.EnvProd, engine)
	if err != nil {
		return err
	}
	o.Yes = isSet(yes)
	if plan != nil {
		o.PlanFile = *plan
	}
	if override != nil {
		o.ValidationOverride = *override
	}
	return cd.WithExitCode(cd.Deploy(ctx, o))
}

// cdOptions are the options every CD target shares.
func cdOptions(env string, engine *string) (cd.Options, error) {
	root, err := project.Root()
	if err != nil {
		return cd.Options{}, err
	}
	o := cd.Options{Env: env, Root: root, Color: !color.NoColor}
	if engine != nil {
		o.Engine = *engine
	}
	return o, nil
}
