// Package checks defines the CI checks of this repository as pipeline tasks:
// one file per check, each declaring the inputs that decide its cache key.
package checks

import (
	"os"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
)

// Config holds what the checks need to know about this run.
type Config struct {
	Root   string              // repository root
	Strict bool                // CI mode: a skipped matrix entry is a failure
	Getenv func(string) string // environment lookup (os.Getenv by default)
}

func (c Config) getenv(k string) string {
	if c.Getenv == nil {
		return os.Getenv(k)
	}
	return c.Getenv(k)
}

// All returns every check, in the order the summary lists them.
func All(cfg Config) []pipeline.Task {
	return []pipeline.Task{
		Gofmt(cfg),
		GoTest(cfg),
		Pytest(cfg),
	}
}

// Names lists the check names, for menus and error messages.
func Names(cfg Config) []string {
	return pipeline.TaskNames(All(cfg))
}
