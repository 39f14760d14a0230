package bundle

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fatih/color"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
)

// AllTargets is the target argument that validates every target.
const AllTargets = "all"

// CheckOptions configure Check, the validation behind `mage bundle:validate`
// and the CI bundle check.
type CheckOptions struct {
	// Target is a target name, "" or "default" for the default target, or
	// "all" for every target.
	Target string
	// Strict turns warnings into errors.
	Strict bool
	// Load carries variables, the user and the environment; its Target is
	// ignored.
	Load LoadOptions
}

// Check validates one target or all of them. The results are in target
// order; with Strict, warnings in them are already errors.
func Check(root string, opts CheckOptions) []TargetResult {
	var results []TargetResult
	switch opts.Target {
	case AllTargets:
		results = ValidateAll(root, opts.Load)
	default:
		lo := opts.Load
		lo.Target = opts.Target
		if lo.Target == defaultTargetName {
			// "default" picks the default target unless a target is
			// literally called so.
			if names, ds := Targets(root, lo); !ds.HasError() && !contains(names, defaultTargetName) {
				lo.Target = ""
			}
		}
		start := time.Now()
		b, ds := Load(root, lo)
		name := lo.Target
		if b != nil {
			name = b.Target
		}
		results = []TargetResult{{Target: name, Diagnostics: ds, Duration: time.Since(start), Bundle: b}}
	}
	if opts.Strict {
		for i := range results {
			results[i].Diagnostics = results[i].Diagnostics.Strict()
		}
	}
	return results
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// WriteText renders results for a person: per target a header, the
// bundle's name, workspace and user, the model and its registry, every
// diagnostic with its file:line, and the "Validation OK!" or "Found N
// errors" line.
func WriteText(w io.Writer, results []TargetResult, opts diag.TextOptions) error {
	var b strings.Builder
	for i, r := range results {
		if i > 0 {
			b.WriteString("\n")
		}
		ok := !r.Diagnostics.HasError()
		mark, paint := "✓", color.New(color.FgGreen)
		if !ok {
			mark, paint = "✗", color.New(color.FgRed)
		}
		header := fmt.Sprintf("── bundle:validate %s  %s %s", displayTarget(r.Target), mark, r.Duration.Round(100*time.Microsecond))
		if opts.Color {
			paint.EnableColor()
			header = paint.Sprint(header)
		}
		b.WriteString(header + "\n")
		if r.Bundle != nil {
			bd := r.Bundle
			fmt.Fprintf(&b, "Name: %s\nTarget: %s\nWorkspace:\n", bd.Name, bd.Target)
			if bd.Workspace.Host != "" {
				fmt.Fprintf(&b, "  Host: %s\n", bd.Workspace.Host)
			}
			if u := bd.Workspace.CurrentUser.UserName; u != "" {
				fmt.Fprintf(&b, "  User: %s\n", u)
			}
			fmt.Fprintf(&b, "  Path: %s\n", bd.Workspace.RootPath)
			if m, err := bd.RegistryModel(); err == nil {
				fmt.Fprintf(&b, "Model: %s (%s)\n", m.FullName, m.Registry)
			}
		}
		b.WriteString("\n")
		if err := r.Diagnostics.WriteText(&b, opts); err != nil {
			return err
		}
		b.WriteString(r.Diagnostics.Summary() + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func displayTarget(t string) string {
	if t == "" {
		return "(bundle)"
	}
	return t
}

// jsonResult is one target in WriteJSON output.
type jsonResult struct {
	Target      string           `json:"target"`
	OK          bool             `json:"ok"`
	DurationMS  float64          `json:"duration_ms"`
	Diagnostics diag.Diagnostics `json:"diagnostics"`
}

// WriteJSON renders results as {"ok": bool, "targets": [...]}.
func WriteJSON(w io.Writer, results []TargetResult) error {
	out := struct {
		OK      bool         `json:"ok"`
		Targets []jsonResult `json:"targets"`
	}{OK: !HasError(results), Targets: []jsonResult{}}
	for _, r := range results {
		ds := r.Diagnostics
		if ds == nil {
			ds = diag.Diagnostics{}
		}
		out.Targets = append(out.Targets, jsonResult{
			Target:      r.Target,
			OK:          !r.Diagnostics.HasError(),
			DurationMS:  float64(r.Duration.Microseconds()) / 1000,
			Diagnostics: ds,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// Err summarises failed results as one error naming the failed targets and
// the first diagnostic, or nil.
func Err(results []TargetResult) error {
	var failed []string
	var first error
	for _, r := range results {
		if err := r.Diagnostics.Err(); err != nil {
			failed = append(failed, displayTarget(r.Target))
			if first == nil {
				first = err
			}
		}
	}
	if first == nil {
		return nil
	}
	return fmt.Errorf("bundle validation failed for %s: %w", strings.Join(failed, ", "), first)
}

// ParseVarList parses the -vars flag: comma-separated name=value pairs.
// A value cannot contain a comma; use BUNDLE_VAR_<name> for those.
func ParseVarList(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	return ParseVars(strings.Split(s, ","))
}
