//go:build mage

package main

import (
	"fmt"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/artifacts"
	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

// Clean removes artifacts/ (with -keep=720h, only reports older than that).
func Clean(keep *time.Duration) error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	if keep == nil {
		return artifacts.Clean(root)
	}
	n, err := artifacts.Prune(root, *keep, time.Now())
	if err != nil {
		return err
	}
	fmt.Printf("removed %d report(s) older than %s\n", n, *keep)
	return nil
}
