//go:build mage

package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/magefile/mage/mg"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// Emulator runs the local Databricks workspace emulator.
type Emulator mg.Namespace

// Serve runs a local Databricks workspace on 127.0.0.1 until Ctrl-C and prints the DATABRICKS_HOST and DATABRICKS_TOKEN to export (-port=N, -state=file.json, -timescale=0.01, -workspaces=dev,staging,prod for one workspace each, -schema=name for a Unity Catalog catalog per workspace with that schema, -legacy=true for the workspace model registry).
func (Emulator) Serve(ctx context.Context, port *int, state *string, timescale *float64, workspaces *string, schema *string, legacy *bool) error {
	opts := emulator.Options{TimeScale: 0.01} // a 5-minute endpoint update takes 3 s
	if port != nil {
		if *port < 0 || *port > 65535 {
			return fmt.Errorf("emulator:serve: -port=%d is not a TCP port (use 0 for a free one)", *port)
		}
		opts.Addr = fmt.Sprintf("127.0.0.1:%d", *port)
	}
	if state != nil {
		opts.StateFile = *state
	}
	if timescale != nil {
		opts.TimeScale = *timescale
	}
	if legacy != nil {
		opts.LegacyRegistry = *legacy
	}
	if schema != nil && *schema != "" {
		if workspaces == nil || *workspaces == "" {
			return fmt.Errorf("emulator:serve: -schema seeds a catalog per workspace: name them with -workspaces=dev,staging,prod")
		}
		opts.CatalogSchema = *schema
	}
	if workspaces != nil && *workspaces != "" {
		return emulator.ServeWorkspaces(ctx, strings.Split(*workspaces, ","), opts, os.Stdout)
	}
	return emulator.Serve(ctx, opts, os.Stdout)
}
