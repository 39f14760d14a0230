package checks

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// Gofmt fails when a Go file is not gofmt-formatted, naming each file.
func Gofmt(cfg Config) pipeline.Task {
	return pipeline.Task{
		Name: "gofmt",
		Inputs: pipeline.Inputs{
			Files:   []string{"**/*.go"},
			Version: goVersion,
		},
		Run: func(ctx context.Context, t *pipeline.T) error {
			files, err := goFiles(cfg.Root)
			if err != nil {
				return err
			}
			out, err := toolchain.Output(ctx, toolchain.Cmd{Name: "gofmt", Args: append([]string{"-l"}, files...), Dir: cfg.Root})
			if err != nil {
				return fmt.Errorf("gofmt: %w", err)
			}
			bad := strings.Fields(out)
			for _, f := range bad {
				t.Finding(pipeline.Finding{File: f, Line: 1, Rule: "gofmt", Message: "file is not gofmt-formatted; run: gofmt -w " + f})
				t.Printf("%s: not formatted", f)
			}
			if len(bad) > 0 {
				t.Summary("%d of %d Go files need formatting", len(bad), len(files))
				return fmt.Errorf("%d Go file(s) need formatting: gofmt -w %s", len(bad), strings.Join(bad, " "))
			}
			t.Summary("%d Go files formatted", len(files))
			return nil
		},
	}
}

// goFiles lists the repository's Go files relative to root, skipping
// caches and reports.
func goFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".cache", "artifacts", "testdata", "node_modules":
				if p != root {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list Go files: %w", err)
	}
	return files, nil
}

// goVersion is the Go toolchain's version, asked once per process: every
// Go check's cache key includes it.
func goVersion(ctx context.Context) (string, error) {
	return toolchain.GoVersion(ctx)
}
