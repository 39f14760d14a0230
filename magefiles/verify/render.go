package verify

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fatih/color"
)

// palette colors outcomes; every color is off unless asked for.
type palette struct {
	pass, fail, skip, dim, bold *color.Color
}

func newPalette(enabled bool) palette {
	p := palette{
		pass: color.New(color.FgGreen),
		fail: color.New(color.FgRed, color.Bold),
		skip: color.New(color.FgYellow),
		dim:  color.New(color.Faint),
		bold: color.New(color.Bold),
	}
	for _, c := range []*color.Color{p.pass, p.fail, p.skip, p.dim, p.bold} {
		if enabled {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return p
}

func (p palette) mark(o Outcome) string {
	switch o {
	case Pass:
		return p.pass.Sprint("✓")
	case Fail:
		return p.fail.Sprint("✗")
	default:
		return p.skip.Sprint("-")
	}
}

// Render writes the report for a person: one line per case, a load table,
// the metrics checks and a verdict naming what failed. Colors only when
// useColor is set (pass it false for NO_COLOR or a non-terminal).
func (r *Report) Render(w io.Writer, useColor bool) error {
	p := newPalette(useColor)
	var b bytes.Buffer
	pass, fail, skip := r.Suite.Counts()
	fmt.Fprintf(&b, "%s  endpoint %s\n", p.bold.Sprint("verify:"+r.Env), r.Endpoint)
	fmt.Fprintf(&b, "%s: %d passed, %d failed, %d skipped in %s\n", r.Suite.Name, pass, fail, skip, human(r.Suite.Duration))

	width := 0
	for _, c := range r.Suite.Cases {
		width = max(width, len(c.Name))
	}
	for _, c := range r.Suite.Cases {
		took := ms(c.Duration)
		if c.Outcome == Skip {
			took = ""
		}
		line := fmt.Sprintf("  %s %-*s %8s", p.mark(c.Outcome), width, c.Name, took)
		switch {
		case c.Outcome == Pass:
			line += "  " + p.dim.Sprint(strings.Join(c.Statuses, " → "))
		case c.Message != "":
			style := p.fail
			if c.Outcome == Skip {
				style = p.skip
			}
			line += "  " + style.Sprint(c.Message)
		}
		b.WriteString(line + "\n")
	}

	if r.Load != nil {
		b.WriteString("\n")
		b.WriteString(r.loadTextWith(p))
	} else {
		fmt.Fprintf(&b, "\nload: %s\n", p.skip.Sprint("skipped: "+r.LoadSkipped))
	}

	if m := r.Metrics; m != nil {
		b.WriteString("\nmetrics export:\n")
		if m.Err != "" {
			fmt.Fprintf(&b, "  %s %s\n", p.mark(Fail), p.fail.Sprint(m.Err))
		}
		for _, c := range m.Checks {
			fmt.Fprintf(&b, "  %s %s: %s (want %s)", p.mark(c.Outcome), c.Name, c.Value, c.Limit)
			if c.Outcome == Fail {
				fmt.Fprintf(&b, "  %s", p.fail.Sprint(c.Message))
			}
			b.WriteString("\n")
		}
	} else {
		fmt.Fprintf(&b, "\nmetrics export: %s\n", p.skip.Sprint("skipped: "+r.MetricsSkipped))
	}

	b.WriteString("\n")
	if r.Passed {
		fmt.Fprintf(&b, "%s %s\n", p.pass.Sprint("verify:"+r.Env+" passed"), p.dim.Sprint("in "+human(r.Duration)))
	} else {
		fmt.Fprintf(&b, "%s\n", p.fail.Sprint("verify:"+r.Env+" FAILED"))
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "  - %s\n", f)
		}
		if len(r.Failures) == 0 {
			b.WriteString("  - the run did not finish (cancelled)\n")
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// loadText is the uncolored load section, also stored in the JUnit report.
func (r *Report) loadText() string { return r.loadTextWith(newPalette(false)) }

func (r *Report) loadTextWith(p palette) string {
	l := r.Load
	var b strings.Builder
	fmt.Fprintf(&b, "load: %d workers, %s, cap %d requests; stopped by %s after %s\n",
		l.Config.Concurrency, l.Config.Duration, l.Config.MaxRequests, l.StopReason, human(l.Elapsed))
	fmt.Fprintf(&b, "  sent %d, ok %d, errors %d", l.Sent, l.Succeeded, l.Errors)
	if l.Errors > 0 {
		fmt.Fprintf(&b, " (%s)", kindsLine(l.ErrorsByKind))
	}
	fmt.Fprintf(&b, "\n  latency p50 %s  p95 %s  p99 %s  max %s\n", ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max))
	fmt.Fprintf(&b, "  throughput %.1f req/s, error rate %s\n", l.RPS, pct(l.ErrorRate))
	if len(l.ServedModels) > 0 {
		served := make([]string, 0, len(l.ServedModels))
		for _, name := range sortedKeys(l.ServedModels) {
			served = append(served, fmt.Sprintf("%s %d", name, l.ServedModels[name]))
		}
		fmt.Fprintf(&b, "  served by %s\n", strings.Join(served, ", "))
	}
	// Align the table without the marks, whose color codes would skew the
	// widths, then put a mark in front of each row.
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "check\tvalue\tlimit\n")
	for _, c := range l.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Value, c.Limit)
	}
	_ = tw.Flush() // into a bytes.Buffer, which cannot fail
	for i, row := range strings.Split(strings.TrimSuffix(table.String(), "\n"), "\n") {
		mark := " "
		if i > 0 {
			mark = p.mark(l.Checks[i-1].Outcome)
		}
		fmt.Fprintf(&b, "  %s %s\n", mark, strings.TrimRight(row, " "))
	}
	return b.String()
}

// human renders a run's duration: milliseconds below a second, else seconds.
func human(d time.Duration) string {
	if d < time.Second {
		return ms(d)
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}
