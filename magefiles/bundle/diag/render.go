package diag

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/fatih/color"
)

// TextOptions controls WriteText.
type TextOptions struct {
	// Color turns on ANSI colors (red errors, yellow warnings, cyan
	// recommendations). Callers decide: off for files and for NO_COLOR.
	Color bool
}

// WriteText renders each diagnostic the way the Databricks CLI does:
//
//	Error: <summary>
//	  at <path>
//	  in <file>:<line>:<col>
//
//	<detail>
//
// followed by nothing else; callers add the Summary line when they want it.
func (ds Diagnostics) WriteText(w io.Writer, opts TextOptions) error {
	var b strings.Builder
	for _, d := range ds {
		title := d.Severity.Title() + ":"
		if opts.Color {
			title = severityColor(d.Severity).Sprint(title)
		}
		b.WriteString(title)
		b.WriteString(" ")
		b.WriteString(d.Summary)
		b.WriteString("\n")
		for _, p := range d.Paths {
			b.WriteString("  at ")
			b.WriteString(p)
			b.WriteString("\n")
		}
		for _, l := range d.Locations {
			if l.IsZero() {
				continue
			}
			b.WriteString("  in ")
			b.WriteString(l.String())
			b.WriteString("\n")
		}
		if d.Detail != "" {
			b.WriteString("\n")
			b.WriteString(strings.TrimRight(d.Detail, "\n"))
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// String renders the diagnostics as text without color.
func (ds Diagnostics) String() string {
	var b strings.Builder
	_ = ds.WriteText(&b, TextOptions{})
	return b.String()
}

func severityColor(s Severity) *color.Color {
	var c *color.Color
	switch s {
	case Error:
		c = color.New(color.FgRed, color.Bold)
	case Warning:
		c = color.New(color.FgYellow, color.Bold)
	default:
		c = color.New(color.FgCyan, color.Bold)
	}
	// The caller asked for color explicitly; do not let the package-level
	// terminal detection override that choice.
	c.EnableColor()
	return c
}

// WriteJSON renders the diagnostics as a JSON array (never null), indented.
func (ds Diagnostics) WriteJSON(w io.Writer) error {
	out := ds
	if out == nil {
		out = Diagnostics{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
