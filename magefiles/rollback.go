//go:build mage

package main

import (
	"context"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
)

// Rollback puts an environment back on its previous stable release (-to=v1.0.0 for a release, -version=N for a model version; -yes skips the confirmation).
func Rollback(ctx context.Context, env string, to, version *string, yes *bool) error {
	o, err := cdOptions(env, nil)
	if err != nil {
		return err
	}
	o.Yes = isSet(yes)
	var t cd.RollbackTarget
	if to != nil {
		t.Release = *to
	}
	if version != nil {
		t.Version = *version
	}
	return cd.Rollback(ctx, o, t)
}
