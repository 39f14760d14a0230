//go:build mage

package main

import (
	"context"
	"os"

	"github.com/fatih/color"

	"github.com/hitl-mlops/interrupt-agent/magefiles/demo"
	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

// Demo tells the whole release story on three local emulated workspaces (dev, staging, prod), no Databricks needed: dev, staging, prod canary, a bad canary aborted, a rollback (-timescale=0.01 -keep).
func Demo(ctx context.Context, timescale *float64, keep *bool) error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	o := demo.Options{Root: root, Out: os.Stdout, Color: !color.NoColor, Keep: isSet(keep)}
	if timescale != nil {
		o.TimeScale = *timescale
	}
	_, err = demo.Run(ctx, o)
	return err
}
