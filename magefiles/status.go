//go:build mage

package main

import (
	"context"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
)

// Status shows what is live in an environment: served versions, traffic, endpoint state, last release, lock.
func Status(ctx context.Context, env string) error {
	o, err := cdOptions(env, nil)
	if err != nil {
		return err
	}
	_, err = cd.Status(ctx, o)
	return err
}
