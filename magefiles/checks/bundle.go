package checks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
)

// BundleValidator is the seam where bundle validation plugs into the
// bundle check. Validate returns every problem as a finding with
// file:line (severity "error" fails the check, "warning" does not); its
// error is for failures to validate at all.
type BundleValidator struct {
	// Name describes the validation in the summary and the cache key
	// (bump it when the validation changes).
	Name string
	// Inputs are the files the validation reads, as pipeline globs.
	Inputs []string
	// Validate checks the bundle under root.
	Validate func(ctx context.Context, root string) ([]pipeline.Finding, error)
}

// DefaultBundleValidator is what the bundle check runs when Config.Bundle
// is nil: the full validation of every target.
var DefaultBundleValidator = FullBundleValidator

// FullBundleValidator loads and validates every target of the bundle the
// way deploys read it (magefiles/bundle): includes, variables, modes,
// resources decoded into the SDK's types, traffic routes. It is strict, as
// `databricks bundle validate --strict` is: the repository holds its own
// bundle to no warnings, so an unknown field (which the CLI would drop
// and deploy without) fails CI. A file that is not even YAML is reported
// by the syntax check alone, once.
var FullBundleValidator = BundleValidator{
	Name:     "all targets, strict",
	Inputs:   []string{"databricks.yml", "databricks.yaml", "resources/**", "src/**"},
	Validate: validateBundle,
}

func validateBundle(ctx context.Context, root string) ([]pipeline.Finding, error) {
	syntax, err := validateYAMLSyntax(ctx, root)
	if err != nil || len(syntax) > 0 {
		return syntax, err
	}
	var fs []pipeline.Finding
	seen := map[string]bool{}
	for _, res := range bundle.Check(root, bundle.CheckOptions{Target: bundle.AllTargets, Strict: true}) {
		for _, d := range res.Diagnostics {
			f := pipeline.Finding{Rule: "bundle", Severity: d.Severity.String(), Message: d.Summary}
			if d.Severity == diag.Error {
				f.Severity = "error"
			}
			if len(d.Locations) > 0 {
				f.File, f.Line, f.Col = d.Locations[0].File, d.Locations[0].Line, d.Locations[0].Column
			}
			if len(d.Paths) > 0 {
				f.Message += " (at " + d.Paths[0] + ")"
			}
			// The same problem in a shared file shows up in every target:
			// report it once, naming the first target it broke.
			key := f.File + ":" + fmt.Sprint(f.Line) + ":" + f.Message
			if seen[key] {
				continue
			}
			seen[key] = true
			if res.Target != "" {
				f.Message = "target " + res.Target + ": " + f.Message
			}
			fs = append(fs, f)
		}
	}
	return fs, nil
}

// YAMLSyntaxValidator parses databricks.yml and resources/*.yml and
// reports syntax errors with their line.
var YAMLSyntaxValidator = BundleValidator{
	Name:     "yaml syntax",
	Inputs:   []string{"databricks.yml", "databricks.yaml", "resources/**/*.yml", "resources/**/*.yaml"},
	Validate: validateYAMLSyntax,
}

// Bundle validates databricks.yml and resources/*.yml, after the security and secret scans.
func Bundle(cfg Config) pipeline.Task {
	v := DefaultBundleValidator
	if cfg.Bundle != nil {
		v = *cfg.Bundle
	}
	return pipeline.Task{
		Name: "bundle",
		// Nothing is validated (and later deployed) from a tree that
		// failed the security or secret scan.
		Deps: []string{"bandit", "gosec", "secrets"},
		Inputs: pipeline.Inputs{
			Files:  v.Inputs,
			Config: []string{"validator=" + v.Name},
		},
		Run: func(ctx context.Context, t *pipeline.T) error {
			if _, err := os.Stat(filepath.Join(cfg.Root, "databricks.yml")); errors.Is(err, os.ErrNotExist) {
				return pipeline.Skip("no databricks.yml")
			}
			fs, err := v.Validate(ctx, cfg.Root)
			if err != nil {
				return fmt.Errorf("bundle validation (%s): %w", v.Name, err)
			}
			errs := 0
			for _, f := range fs {
				t.Finding(f)
				t.Printf("%s", formatFinding(f))
				if f.Severity == "" || f.Severity == "error" {
					errs++
				}
			}
			if errs > 0 {
				t.Summary("%d error(s) (%s)", errs, v.Name)
				return fmt.Errorf("%d bundle error(s); first: %s", errs, formatFinding(firstError(fs)))
			}
			t.Summary("valid (%s)", v.Name)
			return nil
		},
	}
}

// bundleFiles lists databricks.yml and the resource files, sorted.
func bundleFiles(root string) ([]string, error) {
	var files []string
	for _, f := range []string{"databricks.yml", "databricks.yaml"} {
		if _, err := os.Stat(filepath.Join(root, f)); err == nil {
			files = append(files, f)
		}
	}
	err := filepath.WalkDir(filepath.Join(root, "resources"), func(p string, d os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list bundle files: %w", err)
	}
	sort.Strings(files)
	return files, nil
}

// validateYAMLSyntax parses every bundle file (all documents in each) and
// reports each syntax error at its line.
func validateYAMLSyntax(_ context.Context, root string) ([]pipeline.Finding, error) {
	files, err := bundleFiles(root)
	if err != nil {
		return nil, err
	}
	var fs []pipeline.Finding
	for _, f := range files {
		// #nosec G304 -- a bundle file the loader listed, inside the repository root
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			return nil, err
		}
		if line, msg, bad := yamlError(b); bad {
			fs = append(fs, pipeline.Finding{File: f, Line: line, Rule: "yaml", Message: msg})
		}
	}
	return fs, nil
}

// yamlParserProblems are the parser's (not the scanner's) messages.
// yaml.v3 reports their line 0-based - the line of the construct they
// are in, such as the unclosed "[" - while scanner errors are 1-based.
var yamlParserProblems = []string{
	"did not find expected ',' or ']'", "did not find expected ',' or '}'", "did not find expected '-' indicator",
	"did not find expected <document start>", "did not find expected key", "did not find expected node content",
	"found duplicate %TAG directive", "found duplicate %YAML directive", "found incompatible YAML document",
	"found undefined tag handle",
}

// yamlError decodes every document and returns the first syntax error
// with its 1-based line (yaml.v3 puts "yaml: line N: ..." in the message).
func yamlError(b []byte) (line int, msg string, bad bool) {
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return 0, "", false
		}
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			line := 1
			if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil {
				if i := strings.Index(msg, ": "); i >= 0 {
					msg = msg[i+2:]
				}
				for _, p := range yamlParserProblems {
					if msg == p {
						line++
						break
					}
				}
			}
			return line, "invalid YAML: " + msg, true
		}
	}
}
