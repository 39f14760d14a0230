// Package diag holds configuration diagnostics: a severity, a one-line
// summary, an optional detail, the source locations (file:line:col) and the
// configuration paths a problem concerns. Validation collects every
// diagnostic instead of stopping at the first, so one run shows everything
// that needs fixing.
package diag

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Severity orders diagnostics: Error fails validation, Warning fails it only
// in strict mode, Recommendation never does.
type Severity int

const (
	Error Severity = iota
	Warning
	Recommendation
)

// String is the lower-case name used in JSON output.
func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	case Recommendation:
		return "recommendation"
	default:
		return "severity(" + strconv.Itoa(int(s)) + ")"
	}
}

// Title is the capitalised name used as the prefix of text output.
func (s Severity) Title() string {
	switch s {
	case Error:
		return "Error"
	case Warning:
		return "Warning"
	case Recommendation:
		return "Recommendation"
	default:
		return s.String()
	}
}

// MarshalJSON writes the severity as its name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a severity name.
func (s *Severity) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	switch name {
	case "error":
		*s = Error
	case "warning":
		*s = Warning
	case "recommendation":
		*s = Recommendation
	default:
		return fmt.Errorf("unknown severity %q", name)
	}
	return nil
}

// Location is a position in a configuration file. File is relative to the
// bundle root, with forward slashes. Column 0 means the column is unknown.
type Location struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column,omitempty"`
}

// IsZero reports whether the location points nowhere (a value that did not
// come from a file, such as a --var flag).
func (l Location) IsZero() bool { return l.File == "" && l.Line == 0 }

// String renders file:line:col, or file:line when the column is unknown.
func (l Location) String() string {
	if l.IsZero() {
		return ""
	}
	if l.Column == 0 {
		return l.File + ":" + strconv.Itoa(l.Line)
	}
	return l.File + ":" + strconv.Itoa(l.Line) + ":" + strconv.Itoa(l.Column)
}

// Diagnostic is one problem found in a configuration.
type Diagnostic struct {
	Severity  Severity   `json:"severity"`
	Summary   string     `json:"summary"`
	Detail    string     `json:"detail,omitempty"`
	Locations []Location `json:"locations,omitempty"`
	// Paths are configuration paths such as resources.jobs.train.tasks[0].
	Paths []string `json:"paths,omitempty"`
}

// Diagnostics is an ordered collection; the order is the order of discovery.
type Diagnostics []Diagnostic

// Errorf returns a single error diagnostic without a location.
func Errorf(format string, args ...any) Diagnostics {
	return Diagnostics{{Severity: Error, Summary: fmt.Sprintf(format, args...)}}
}

// Append adds one diagnostic.
func (ds Diagnostics) Append(d Diagnostic) Diagnostics { return append(ds, d) }

// Extend adds all of other.
func (ds Diagnostics) Extend(other Diagnostics) Diagnostics { return append(ds, other...) }

// HasError reports whether any diagnostic is an error.
func (ds Diagnostics) HasError() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Count returns how many diagnostics have severity s.
func (ds Diagnostics) Count(s Severity) int {
	n := 0
	for _, d := range ds {
		if d.Severity == s {
			n++
		}
	}
	return n
}

// Filter returns the diagnostics of severity s.
func (ds Diagnostics) Filter(s Severity) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// Strict returns a copy in which warnings are errors, for --strict runs.
// Recommendations stay recommendations.
func (ds Diagnostics) Strict() Diagnostics {
	out := make(Diagnostics, len(ds))
	copy(out, ds)
	for i := range out {
		if out[i].Severity == Warning {
			out[i].Severity = Error
		}
	}
	return out
}

// Err returns nil when there is no error, otherwise an error whose message
// names the first error and how many there are in all, so a caller that only
// propagates errors still says something useful.
func (ds Diagnostics) Err() error {
	errs := ds.Filter(Error)
	if len(errs) == 0 {
		return nil
	}
	first := errs[0].Summary
	if loc := firstLocation(errs[0]); loc != "" {
		first = loc + ": " + first
	}
	if len(errs) == 1 {
		return &ValidationError{Diagnostics: ds, msg: first}
	}
	return &ValidationError{Diagnostics: ds, msg: fmt.Sprintf("%s (and %d more %s)", first, len(errs)-1, plural(len(errs)-1, "error", "errors"))}
}

func firstLocation(d Diagnostic) string {
	if len(d.Locations) == 0 {
		return ""
	}
	return d.Locations[0].String()
}

// ValidationError carries the diagnostics that made a validation fail.
type ValidationError struct {
	Diagnostics Diagnostics
	msg         string
}

func (e *ValidationError) Error() string { return e.msg }

// Summary is the closing line of a report: "Validation OK!" or a count such
// as "Found 2 errors and 1 warning".
func (ds Diagnostics) Summary() string {
	e, w, r := ds.Count(Error), ds.Count(Warning), ds.Count(Recommendation)
	var parts []string
	if e > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", e, plural(e, "error", "errors")))
	}
	if w > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", w, plural(w, "warning", "warnings")))
	}
	if r > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", r, plural(r, "recommendation", "recommendations")))
	}
	switch len(parts) {
	case 0:
		return "Validation OK!"
	case 1:
		return "Found " + parts[0]
	default:
		return "Found " + strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
