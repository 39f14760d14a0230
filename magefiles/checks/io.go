package checks

import (
	"context"
	"io"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// writerPair sends a tool's output both to the task log and to a buffer the
// check parses.
func writerPair(log, capture io.Writer) io.Writer {
	return io.MultiWriter(log, capture)
}

// logTo adapts a task's log for the provisioning helpers.
func logTo(t *pipeline.T) func(string) {
	return func(s string) { t.Printf("%s", s) }
}

// pythonToolsVersion is the cache-key part for a set of Python tools: the
// interpreter that has them and their installed versions. An interpreter
// without them makes the run uncacheable (the check then provisions or
// reports them). version picks the interpreter ("3.11"; "" for python3).
func pythonToolsVersion(pys *toolchain.Pythons, version string, modules []string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		py, err := pys.Find(ctx, version, modules...)
		if err != nil {
			return "", err
		}
		return pys.DistVersions(ctx, py, modules...)
	}
}

// goToolVersion is the cache-key part for a pinned Go tool: the table's
// version and the Go toolchain that builds and loads the code.
func goToolVersion(tool toolchain.GoTool) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		gv, err := goVersion(ctx)
		if err != nil {
			return "", err
		}
		return tool.ID() + " " + strings.TrimSpace(gv), nil
	}
}
