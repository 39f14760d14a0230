package ci

import (
	"io"
	"os"
)

// Options configure Measure.
type Options struct {
	Out        io.Writer // progress; default os.Stdout
	WarmRounds int       // all-cached runs to take the median of (default 3)
	// Base is a commit to measure the cold run of side by side (the
	// commit before a change); empty: no comparison.
	Base string
	// Dir holds the scratch clone and the base worktree; default a
	// temporary directory, removed afterwards.
	Dir string
	// Caches is a directory holding tools/ and vulndb/ as a run leaves
	// them under .cache: the clone uses them and (a) is not measured
	// (a bench repeated for the other figures).
	Caches string
	// GoEdit and PyEdit are the files the one-line edits append to
	// (defaults: a Go package the end-to-end tests do not import, and a
	// file of the model).
	GoEdit, PyEdit string
}

// Default one-line edits: magefiles/releasenotes is imported by no
// package the end-to-end tests build; tools.py is the model's code.
const (
	defaultGoEdit = "magefiles/releasenotes/notes.go"
	defaultPyEdit = "src/human_interrupt_agent/tools.py"
)

func (o Options) withDefaults() Options {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.WarmRounds <= 0 {
		o.WarmRounds = 3
	}
	if o.GoEdit == "" {
		o.GoEdit = defaultGoEdit
	}
	if o.PyEdit == "" {
		o.PyEdit = defaultPyEdit
	}
	return o
}
