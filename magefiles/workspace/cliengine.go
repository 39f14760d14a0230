package workspace

import (
	"context"
	"fmt"
	"io"

	"github.com/hitl-mlops/interrupt-agent/magefiles/redact"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// CLIEngine deploys with the Databricks CLI: `databricks bundle deploy -t
// <target>` in the bundle root. The CLI keeps its own deployment state; the
// result carries no job ids, so callers look jobs up by name.
type CLIEngine struct {
	// Bin is the CLI executable.
	Bin string
	// Env is added to the CLI's environment (tests).
	Env []string
}

// Name implements Engine.
func (e *CLIEngine) Name() string { return EngineCLI }

// Deploy implements Engine. The client is not used: the CLI authenticates
// from the same environment, and the host was checked when the client was
// made.
func (e *CLIEngine) Deploy(ctx context.Context, c *Client, req DeployRequest) (*DeployResult, error) {
	args := []string{"bundle", "deploy", "-t", req.Target}
	// The release goes in as bundle variables only when the bundle declares
	// them; an undeclared --var is an error for the CLI.
	out := &redactWriter{w: req.out(), r: redact.FromEnv()}
	cmd := toolchain.Cmd{Name: e.Bin, Args: args, Dir: req.BundleRoot, Stdout: out, Stderr: out, Env: e.Env}
	if c != nil && c.Host != "" {
		cmd.Env = append(cmd.Env, "DATABRICKS_HOST="+c.Host)
	}
	if err := toolchain.Run(ctx, cmd); err != nil {
		return nil, fmt.Errorf("deploy %s with the CLI (%s): %w", req.Target, cmd.String(), err)
	}
	return &DeployResult{Engine: EngineCLI, Changes: []Change{{Kind: "bundle", Key: req.Target, Name: req.Target, Action: ActionUpdate, Detail: "deployed by " + cmd.String()}}}, nil
}

// redactWriter masks secrets in the CLI's output.
type redactWriter struct {
	w io.Writer
	r *redact.Redactor
}

func (rw *redactWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(rw.w, rw.r.String(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
