package checks

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// GoTest runs the Go tests with the race detector and coverage.
func GoTest(cfg Config) pipeline.Task {
	return pipeline.Task{
		Name: "go-test",
		Inputs: pipeline.Inputs{
			// The Go tests read fixtures, the bundle, the payload and the
			// integration cases, so every tracked file is an input.
			Files:   []string{"**"},
			Version: goVersion,
		},
		Run: func(ctx context.Context, t *pipeline.T) error {
			var out strings.Builder
			err := toolchain.Run(ctx, toolchain.Cmd{
				Name:   "go",
				Args:   []string{"test", "-race", "-cover", "-count=1", "./..."},
				Dir:    cfg.Root,
				Stdout: writerPair(t.Out(), &out),
				Stderr: writerPair(t.Out(), &out),
			})
			for _, f := range goTestFailures(out.String()) {
				t.Finding(f)
			}
			t.Summary("%s", goTestSummary(out.String()))
			if err != nil {
				return fmt.Errorf("go test: %w", err)
			}
			return nil
		},
	}
}

var (
	goTestOK     = regexp.MustCompile(`(?m)^ok\s+\S+`)
	goTestFail   = regexp.MustCompile(`(?m)^FAIL\s+\S+`)
	goTestFailAt = regexp.MustCompile(`(?m)^\s+([\w./-]+_test\.go):(\d+): (.*)$`)
	goFailedTest = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)
)

// goTestSummary condenses `go test` output to package counts.
func goTestSummary(out string) string {
	okPkgs, failPkgs := len(goTestOK.FindAllString(out, -1)), len(goTestFail.FindAllString(out, -1))
	s := fmt.Sprintf("%d packages ok", okPkgs)
	if failPkgs > 0 {
		s += fmt.Sprintf(", %d failed", failPkgs)
		if tests := goFailedTest.FindAllStringSubmatch(out, -1); len(tests) > 0 {
			s += fmt.Sprintf(" (%d tests)", len(tests))
		}
	}
	return s
}

// goTestFailures turns `file_test.go:12: message` lines into findings.
func goTestFailures(out string) []pipeline.Finding {
	var fs []pipeline.Finding
	for _, m := range goTestFailAt.FindAllStringSubmatch(out, -1) {
		var line int
		fmt.Sscanf(m[2], "%d", &line)
		fs = append(fs, pipeline.Finding{File: m[1], Line: line, Rule: "go test", Message: strings.TrimSpace(m[3])})
	}
	return fs
}
