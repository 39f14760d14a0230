//go:build mage

package main

import (
	"context"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
)

// Unlock removes an environment's deploy lock left by a deploy that died, after showing its holder and asking (-yes skips the question).
func Unlock(ctx context.Context, env string, yes *bool) error {
	o, err := cdOptions(env, nil)
	if err != nil {
		return err
	}
	o.Yes = isSet(yes)
	_, err = cd.Unlock(ctx, o)
	return err
}
