package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// workflowInputs are the GitHub Actions workflows actionlint reads.
var workflowInputs = []string{".github/workflows/*.yml", ".github/workflows/*.yaml", ".github/actionlint.yaml", ".github/actionlint.yml"}

// Workflows lints .github/workflows with the pinned actionlint: syntax,
// expressions, job dependencies, action inputs and shellcheck-free script
// checks. That every mage target a workflow calls exists is a Go test
// (tests/targets), because it needs the compiled magefiles.
func Workflows(cfg Config) pipeline.Task {
	tool := toolchain.Tool("actionlint")
	return pipeline.Task{
		Name: "workflows",
		Inputs: pipeline.Inputs{
			Files:   workflowInputs,
			Version: goToolVersion(tool),
		},
		Run: func(ctx context.Context, t *pipeline.T) error {
			files, _ := filepath.Glob(filepath.Join(cfg.Root, ".github", "workflows", "*.y*ml"))
			if len(files) == 0 {
				return pipeline.Skip("no workflows under .github/workflows")
			}
			bin, err := toolchain.EnsureGoTool(ctx, cfg.toolsDir(), tool, logTo(t))
			if err != nil {
				return err
			}
			var stdout, stderr bytes.Buffer
			// shellcheck and pyflakes are optional integrations; turning
			// them off keeps the result the same on every machine.
			runErr := toolchain.Run(ctx, toolchain.Cmd{Name: bin, Args: []string{"-format", "{{json .}}", "-shellcheck=", "-pyflakes=", "-no-color"},
				Dir: cfg.Root, Stdout: &stdout, Stderr: &stderr,
				Env: []string{"NO_COLOR=1"}})
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fs, perr := parseActionlint(cfg.Root, stdout.Bytes())
			if perr != nil {
				return fmt.Errorf("actionlint output: %w (stderr: %s)", perr, stderr.String())
			}
			if runErr != nil && len(fs) == 0 && toolchain.ExitCode(runErr) == 1 {
				runErr = errors.New("actionlint reported problems it did not print")
			}
			if runErr == nil && len(fs) == 0 {
				t.Summary("%d workflow(s) clean", len(files))
				return nil
			}
			return reportLint(t, "actionlint", fs, runErr, stdout.String()+stderr.String(), "problem(s)")
		},
	}
}

// actionlintError is one entry of `actionlint -format '{{json .}}'`.
type actionlintError struct {
	Message  string `json:"message"`
	Filepath string `json:"filepath"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Kind     string `json:"kind"`
}

func parseActionlint(root string, out []byte) ([]pipeline.Finding, error) {
	out = bytes.TrimSpace(out)
	if len(out) == 0 {
		return nil, nil
	}
	var errs []actionlintError
	if err := json.Unmarshal(out, &errs); err != nil {
		return nil, err
	}
	fs := make([]pipeline.Finding, 0, len(errs))
	for _, e := range errs {
		fs = append(fs, pipeline.Finding{File: relURI(root, e.Filepath), Line: e.Line, Col: e.Column, Rule: e.Kind, Message: e.Message})
	}
	return fs, nil
}
