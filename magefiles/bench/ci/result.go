package ci

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Result is what `mage bench:ci` measures, in seconds, in one run on
// a fresh clone of HEAD:
//
//	(a) Fresh      `mage ci` in the clone: no pinned tool built, no CI cache
//	(b) Cold       `mage ci -nocache`, tools built
//	(d) Warm       `mage ci`, everything cached (median of WarmRounds)
//	(e) GoEdit     `mage ci` after a one-line edit of a Go package the
//	               end-to-end tests do not import
//	(f) PyEdit     `mage ci` after a one-line edit of a Python file
//	(c) ColdSerial (b) with -j=1, last: the longest run
//
// and BaseCold, (b) of the Base commit, run right before (b). Each figure
// is written as soon as it is measured.
type Result struct {
	When   time.Time `json:"when"`
	CPUs   int       `json:"cpus"`
	Go     string    `json:"go"`
	Commit string    `json:"commit"`
	Tasks  int       `json:"tasks"`
	// Load is the 1-minute load average when the run started and ended:
	// other work on the machine slows every figure alike.
	Load []string `json:"load_avg,omitempty"`

	Fresh      float64  `json:"fresh_s"`
	Cold       float64  `json:"cold_s"`
	ColdSerial float64  `json:"cold_serial_s"`
	Ratio      float64  `json:"parallel_serial_ratio"`
	Warm       float64  `json:"warm_s"`
	WarmCached int      `json:"warm_cached_tasks"`
	GoEdit     float64  `json:"go_edit_s"`
	GoEditRan  []string `json:"go_edit_ran"`
	PyEdit     float64  `json:"py_edit_s"`
	PyEditRan  []string `json:"py_edit_ran"`

	Base      string  `json:"base,omitempty"`
	BaseCold  float64 `json:"base_cold_s,omitempty"`
	BaseRatio float64 `json:"cold_vs_base,omitempty"` // Cold / BaseCold

	// MageStartup is `go run mage.go -l`, the floor under any target.
	MageStartup float64 `json:"mage_startup_s"`

	Failed []string `json:"failed_checks,omitempty"` // checks that failed in (b)
	// Excluded are the checks left out of (d), (e) and (f) because they
	// failed in (b).
	Excluded []string `json:"excluded_after_b,omitempty"`

	PerCheck []CheckTime `json:"per_check"`
}

// CheckTime is one check's time in the cold runs: wall time and the CPU
// time of the commands it ran.
type CheckTime struct {
	Name      string  `json:"name"`
	Cold      float64 `json:"cold_s"`
	Serial    float64 `json:"serial_s"`
	ColdCPU   float64 `json:"cold_cpu_s"`
	SerialCPU float64 `json:"serial_cpu_s"`
}

// cpuTotals sums the checks' CPU in (b) and (c).
func (r *Result) cpuTotals() (cold, serial float64) {
	for _, c := range r.PerCheck {
		cold += c.ColdCPU
		serial += c.SerialCPU
	}
	return cold, serial
}

// goals are the targets each figure is held to (on 2 cores).
var goals = struct{ BaseRatio, Ratio, Warm, GoEdit, PyEdit, Fresh float64 }{0.40, 0.65, 1, 20, 30, 480}

// Markdown renders the result as the table the README quotes.
func (r *Result) Markdown() string {
	var b strings.Builder
	verdict := func(v, goal float64) string {
		if v == 0 {
			return "not measured"
		}
		if v <= goal {
			return "met"
		}
		return "missed"
	}
	fmt.Fprintf(&b, "`go run mage.go ci` on a fresh clone of %s: %d checks, %d CPUs, %s, load average %s\n\n",
		shortSHA(r.Commit), r.Tasks, r.CPUs, r.Go, strings.Join(r.Load, " → "))
	fmt.Fprintf(&b, "| measure | seconds | goal | |\n|---|---:|---|---|\n")
	fmt.Fprintf(&b, "| (a) fresh clone, no tool built | %.1f | ≤ %.0f | %s |\n", r.Fresh, goals.Fresh, verdict(r.Fresh, goals.Fresh))
	if r.BaseCold > 0 {
		fmt.Fprintf(&b, "| (b) of %s, the base, run just before (b) | %.1f | | |\n", shortSHA(r.Base), r.BaseCold)
		fmt.Fprintf(&b, "| (b) cold, tools built (`-nocache`) | %.1f (%.2f of the base) | ≤ %.2f of the base | %s |\n", r.Cold, r.BaseRatio, goals.BaseRatio, verdict(r.BaseRatio, goals.BaseRatio))
	} else {
		fmt.Fprintf(&b, "| (b) cold, tools built (`-nocache`) | %.1f | | |\n", r.Cold)
	}
	fmt.Fprintf(&b, "| (c) (b) with `-j=1` | %.1f | | |\n", r.ColdSerial)
	fmt.Fprintf(&b, "| (b) / (c) | %.2f | ≤ %.2f | %s |\n", r.Ratio, goals.Ratio, verdict(r.Ratio, goals.Ratio))
	fmt.Fprintf(&b, "| (d) warm, all cached (%d of %d checks cached), mage start-up included | %.2f | < %.0f | %s |\n", r.WarmCached, r.Tasks, r.Warm, goals.Warm, verdict(r.Warm, goals.Warm))
	fmt.Fprintf(&b, "| (e) after a one-line edit of a Go package the e2e tests do not import | %.1f | ≤ %.0f | %s |\n", r.GoEdit, goals.GoEdit, verdict(r.GoEdit, goals.GoEdit))
	fmt.Fprintf(&b, "| (f) after a one-line edit of a Python file | %.1f | ≤ %.0f | %s |\n", r.PyEdit, goals.PyEdit, verdict(r.PyEdit, goals.PyEdit))
	fmt.Fprintf(&b, "| mage start-up alone (`go run mage.go -l`) | %.2f | | |\n", r.MageStartup)
	fmt.Fprintf(&b, "\nRe-run by (e): %s.\nRe-run by (f): %s.\n", strings.Join(r.GoEditRan, ", "), strings.Join(r.PyEditRan, ", "))
	if len(r.Failed) > 0 {
		fmt.Fprintf(&b, "\nChecks that failed in (b): %s.\n", strings.Join(r.Failed, ", "))
	}
	if len(r.Excluded) > 0 {
		fmt.Fprintf(&b, "Left out of (d), (e) and (f) (a failure is never cached): %s.\n", strings.Join(r.Excluded, ", "))
	}
	if len(r.PerCheck) > 0 {
		if cold, serial := r.cpuTotals(); serial > 0 && r.CPUs > 0 && r.ColdSerial > 0 {
			// However well the checks share the machine, (b) cannot do
			// (c)'s work in less than that work spread over every core.
			floor := serial / float64(r.CPUs)
			fmt.Fprintf(&b, "\nCPU of the checks' commands: (b) %.0f s, (c) %.0f s. On %d CPUs (c)'s work takes at least %.0f s, so (b) / (c) ≥ %.2f.\n",
				cold, serial, r.CPUs, floor, floor/r.ColdSerial)
		}
		fmt.Fprintf(&b, "\n| check | (b) s | (c) s | (b) CPU s | (c) CPU s |\n|---|---:|---:|---:|---:|\n")
		for _, c := range r.PerCheck {
			fmt.Fprintf(&b, "| %s | %.1f | %.1f | %.1f | %.1f |\n", c.Name, c.Cold, c.Serial, c.ColdCPU, c.SerialCPU)
		}
	}
	return b.String()
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// write stores the result as ci.json and ci.md in dir.
func write(dir string, r *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ci.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "ci.md"), []byte(r.Markdown()), 0o644)
}
