//go:build mage

package main

import (
	"context"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
)

// Rollback puts an environment back on its last stable release when the endpoint no longer serves it, else says none is needed (-to=v1.0.0 or -version=N for an explicit target; -yes skips the confirmation; -check only tells).
func Rollback(ctx context.Context, env string, to, version *string, yes, check *bool) error {
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
	if isSet(check) {
		_, err = cd.RollbackCheck(ctx, o, t)
		return err
	}
	return cd.Rollback(ctx, o, t)
}
