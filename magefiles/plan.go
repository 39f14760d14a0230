//go:build mage

package main

import (
	"context"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
)

// Plan shows what deploy:<env> would change (model version, endpoint before/after, jobs), changing nothing; -out=FILE saves it for deploy -plan=FILE.
func Plan(ctx context.Context, env string, out *string) error {
	o, err := cdOptions(env, nil)
	if err != nil {
		return err
	}
	if out != nil {
		o.PlanOut = *out
	}
	_, err = cd.Plan(ctx, o)
	return err
}
