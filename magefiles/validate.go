//go:build mage

package main

import (
	"context"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
)

// Validate judges the release the previous environment verified against what <env> serves, on tests/validation/cases.json and recorded production requests; deploy:prod needs its pass (report: artifacts/validation/<env>/).
func Validate(ctx context.Context, env string) error {
	o, err := cdOptions(env, nil)
	if err != nil {
		return err
	}
	return cd.WithExitCode(cd.RunValidate(ctx, o))
}
