package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// Go code quality beyond gofmt: go vet and staticcheck. Both load the
// mage targets too (-tags mage), so a target that no longer compiles
// fails here rather than on a user's terminal.

var goCodeInputs = []string{"**/*.go", "go.mod", "go.sum"}

// GoVet runs go vet on every package, the mage targets included.
func GoVet(cfg Config) pipeline.Task {
	return pipeline.Task{
		Name:   "go-vet",
		Inputs: pipeline.Inputs{Files: goCodeInputs, Version: goVersion},
		Run: func(ctx context.Context, t *pipeline.T) error {
			var out bytes.Buffer
			runErr := toolchain.Run(ctx, toolchain.Cmd{Name: "go", Args: []string{"vet", "-tags", "mage", "./..."},
				Dir: cfg.Root, Stdout: &out, Stderr: &out})
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return reportLint(t, "go vet", parseGoVet(cfg.Root, out.String()), runErr, out.String(), "finding(s)")
		},
	}
}

var goVetLine = regexp.MustCompile(`(?m)^(?:vet: )?(?:\./)?([^\s:]+\.go):(\d+):(\d+): (.*)$`)

func parseGoVet(root, out string) []pipeline.Finding {
	var fs []pipeline.Finding
	for _, m := range goVetLine.FindAllStringSubmatch(out, -1) {
		fs = append(fs, pipeline.Finding{File: relURI(root, m[1]), Line: atoiSafe(m[2]), Col: atoiSafe(m[3]), Rule: "go vet", Message: m[4]})
	}
	return fs
}

// Staticcheck runs the pinned staticcheck on every package.
func Staticcheck(cfg Config) pipeline.Task {
	tool := toolchain.Tool("staticcheck")
	return pipeline.Task{
		Name: "staticcheck",
		Inputs: pipeline.Inputs{
			Files:   append(append([]string{}, goCodeInputs...), "**/staticcheck.conf"),
			Version: goToolVersion(tool),
		},
		Run: func(ctx context.Context, t *pipeline.T) error {
			bin, err := toolchain.EnsureGoTool(ctx, cfg.toolsDir(), tool, logTo(t))
			if err != nil {
				return err
			}
			var stdout, stderr bytes.Buffer
			runErr := toolchain.Run(ctx, toolchain.Cmd{Name: bin, Args: []string{"-f", "json", "-tags", "mage", "./..."},
				Dir: cfg.Root, Stdout: &stdout, Stderr: &stderr})
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fs, err := parseStaticcheck(cfg.Root, stdout.String())
			if err != nil {
				return err
			}
			return reportLint(t, "staticcheck", fs, runErr, stdout.String()+stderr.String(), "finding(s)")
		},
	}
}

type staticcheckProblem struct {
	Code     string `json:"code"`
	Severity string `json:"severity"` // error, warning, ignored
	Location struct {
		File   string `json:"file"`
		Line   int    `json:"line"`
		Column int    `json:"column"`
	} `json:"location"`
	Message string `json:"message"`
}

// parseStaticcheck reads staticcheck -f json (one object per line).
// Compile errors arrive as problems with code "compile".
func parseStaticcheck(root, out string) ([]pipeline.Finding, error) {
	var fs []pipeline.Finding
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var p staticcheckProblem
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			return nil, fmt.Errorf("parse staticcheck output %q: %w", line, err)
		}
		if p.Severity == "ignored" {
			continue
		}
		sev := "error"
		if p.Severity == "warning" {
			sev = "warning"
		}
		f := pipeline.Finding{File: relURI(root, p.Location.File), Line: p.Location.Line, Col: p.Location.Column,
			Rule: p.Code, Severity: sev, Message: p.Message}
		// Load errors carry no location; it is in the message.
		if f.File == "" {
			if m := goBuildFailAt.FindStringSubmatch(strings.TrimPrefix(p.Message, "/")); m != nil {
				file := m[1]
				if strings.HasPrefix(p.Message, "/") {
					file = "/" + file
				}
				f.File, f.Line, f.Col, f.Message = relURI(root, file), atoiSafe(m[2]), atoiSafe(m[3]), m[4]
			}
		}
		fs = append(fs, f)
	}
	return fs, nil
}
