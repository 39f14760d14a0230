package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
)

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// printer owns the terminal: task blocks are written whole under one lock so
// parallel tasks never interleave, and the progress line is cleared first.
type printer struct {
	opts  Options
	total int

	mu        sync.Mutex
	running   map[string]time.Time
	doneCount int
	progress  bool // a progress line is currently drawn

	stopTick chan struct{}
	tickDone chan struct{}

	pass, fail, warn, dim, bold *color.Color
}

func newPrinter(opts Options, tasks []Task) *printer {
	p := &printer{
		opts:    opts,
		total:   len(tasks),
		running: map[string]time.Time{},
		pass:    color.New(color.FgGreen),
		fail:    color.New(color.FgRed, color.Bold),
		warn:    color.New(color.FgYellow),
		dim:     color.New(color.Faint),
		bold:    color.New(color.Bold),
	}
	for _, c := range []*color.Color{p.pass, p.fail, p.warn, p.dim, p.bold} {
		if opts.Color {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return p
}

func (p *printer) start() {
	if !p.opts.Progress || p.opts.Verbose {
		return
	}
	p.stopTick, p.tickDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.tickDone)
		t := time.NewTicker(150 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stopTick:
				return
			case <-t.C:
				p.mu.Lock()
				p.drawProgress()
				p.mu.Unlock()
			}
		}
	}()
}

func (p *printer) stop() {
	if p.stopTick != nil {
		close(p.stopTick)
		<-p.tickDone
	}
	p.mu.Lock()
	p.clearProgress()
	p.mu.Unlock()
}

// drawProgress rewrites the one-line view; caller holds mu.
func (p *printer) drawProgress() {
	names := make([]string, 0, len(p.running))
	oldest := time.Now()
	for n, t := range p.running {
		names = append(names, n)
		if t.Before(oldest) {
			oldest = t
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	line := fmt.Sprintf("%d/%d done · running %s (%s)", p.doneCount, p.total,
		strings.Join(names, ", "), time.Since(oldest).Round(100*time.Millisecond))
	fmt.Fprint(p.opts.Out, "\r\033[K"+p.dim.Sprint(line))
	p.progress = true
}

func (p *printer) clearProgress() {
	if p.progress {
		fmt.Fprint(p.opts.Out, "\r\033[K")
		p.progress = false
	}
}

func (p *printer) started(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[name] = time.Now()
	if p.opts.Verbose || !p.opts.Progress {
		if !p.opts.GitHub {
			fmt.Fprintf(p.opts.Out, "%s %s\n", p.dim.Sprint("▶"), name)
		}
	}
}

// finished prints the task's block: header, buffered output, error, findings.
func (p *printer) finished(r Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, r.Name)
	p.doneCount++
	p.clearProgress()

	w := p.opts.Out
	header := fmt.Sprintf("%s %s", r.Name, p.statusText(r))
	if r.Duration > 0 {
		header += " " + p.dim.Sprint(fmtDuration(r.Duration))
	}
	output := r.Output
	if p.opts.Verbose {
		output = "" // already streamed
	}
	if p.opts.GitHub {
		fmt.Fprintf(w, "::group::%s\n", header)
		writeBlock(w, output)
		if r.Error != "" {
			fmt.Fprintln(w, r.Error)
		}
		fmt.Fprintln(w, "::endgroup::")
		for _, f := range r.Findings {
			fmt.Fprintln(w, annotation(r.Name, f))
		}
		if r.Status == StatusFail && len(r.Findings) == 0 {
			fmt.Fprintf(w, "::error title=%s::%s\n", escapeProperty(r.Name), escapeData(firstLine(r.Error)))
		}
		return
	}
	fmt.Fprintf(w, "── %s\n", header)
	writeBlock(w, output)
	if r.Error != "" {
		fmt.Fprintln(w, p.fail.Sprint(r.Error))
	}
}

func writeBlock(w io.Writer, s string) {
	if s == "" {
		return
	}
	fmt.Fprint(w, s)
	if !strings.HasSuffix(s, "\n") {
		fmt.Fprintln(w)
	}
}

func (p *printer) statusText(r Result) string {
	switch r.Status {
	case StatusPass:
		return p.pass.Sprint("✓ pass")
	case StatusFail:
		return p.fail.Sprint("✗ fail")
	case StatusCached:
		return p.warn.Sprint("● cached")
	case StatusSkipped:
		return p.warn.Sprintf("- skipped (%s)", r.Reason)
	case StatusBlocked:
		return p.fail.Sprintf("✗ blocked (%s)", r.Reason)
	case StatusCanceled:
		return p.fail.Sprintf("✗ canceled (%s)", r.Reason)
	}
	return string(r.Status)
}

// live returns a writer that streams a task's lines with its name as prefix.
func (p *printer) live(name string) io.Writer {
	return &lineWriter{emit: func(line string) {
		p.mu.Lock()
		defer p.mu.Unlock()
		fmt.Fprintf(p.opts.Out, "%s %s\n", p.dim.Sprintf("[%s]", name), p.opts.Redactor.String(line))
	}}
}

// summary prints the final table: check, status, time, findings.
func (p *printer) summary(rep *Report) {
	w := p.opts.Out
	rows := make([][4]string, 0, len(rep.Results))
	width := [4]int{len("CHECK"), len("STATUS"), len("TIME"), 0}
	for _, r := range rep.Results {
		dur := ""
		if r.Status != StatusBlocked && r.Status != StatusCanceled {
			dur = fmtDuration(r.Duration)
		}
		row := [4]string{r.Name, string(r.Status), dur, resultWithReason(r)}
		for i := 0; i < 3; i++ {
			width[i] = max(width[i], len([]rune(row[i])))
		}
		rows = append(rows, row)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, p.bold.Sprintf("%-*s  %-*s  %*s  %s", width[0], "CHECK", width[1], "STATUS", width[2], "TIME", "RESULT"))
	for i, row := range rows {
		status := fmt.Sprintf("%-*s", width[1], row[1])
		switch rep.Results[i].Status {
		case StatusPass:
			status = p.pass.Sprint(status)
		case StatusCached, StatusSkipped:
			status = p.warn.Sprint(status)
		default:
			status = p.fail.Sprint(status)
		}
		fmt.Fprintf(w, "%-*s  %s  %*s  %s\n", width[0], row[0], status, width[2], row[2], row[3])
	}
	verdict := p.pass.Sprint("all checks passed")
	if !rep.Passed {
		verdict = p.fail.Sprint("FAILED")
	}
	fmt.Fprintf(w, "\n%s in %s (%d jobs)\n", verdict, fmtDuration(rep.Duration), rep.Jobs)
}

// resultWithReason is the summary's RESULT column: why a check was not run
// or skipped (not a cached pass's "inputs unchanged"), then its result.
func resultWithReason(r Result) string {
	res := resultLine(r)
	if r.Reason == "" || r.Status == StatusCached {
		return res
	}
	if res == "" {
		return r.Reason
	}
	return r.Reason + "; " + res
}

// resultLine is the one-line finding count shown in the summary.
func resultLine(r Result) string {
	switch {
	case r.Summary != "":
		return r.Summary
	case len(r.Findings) > 0:
		return fmt.Sprintf("%d finding(s)", len(r.Findings))
	case r.Error != "":
		return firstLine(r.Error)
	}
	return ""
}

func appendStepSummary(path string, rep *Report) error {
	var b strings.Builder
	b.WriteString("### mage ci\n\n| check | status | time | result |\n|---|---|---|---|\n")
	icons := map[Status]string{StatusPass: "✅", StatusFail: "❌", StatusCached: "♻️", StatusSkipped: "⏭️", StatusBlocked: "⛔", StatusCanceled: "⛔"}
	for _, r := range rep.Results {
		status := icons[r.Status] + " " + string(r.Status)
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.Name, mdEscape(status), fmtDuration(r.Duration), mdEscape(resultWithReason(r)))
	}
	// #nosec G304 -- $GITHUB_STEP_SUMMARY, the runner's own summary file
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(b.String() + "\n")
	return err
}

// WriteJSON writes the report to path (creating its directory).
func (r *Report) WriteJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// annotation renders a finding as a GitHub Actions workflow command.
func annotation(task string, f Finding) string {
	level := "error"
	switch f.Severity {
	case "warning":
		level = "warning"
	case "notice", "info", "recommendation":
		level = "notice"
	}
	var props []string
	if f.File != "" {
		props = append(props, "file="+escapeProperty(f.File))
		if f.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", f.Line))
		}
		if f.Col > 0 {
			props = append(props, fmt.Sprintf("col=%d", f.Col))
		}
	}
	title := task
	if f.Rule != "" {
		title += ": " + f.Rule
	}
	props = append(props, "title="+escapeProperty(title))
	return fmt.Sprintf("::%s %s::%s", level, strings.Join(props, ","), escapeData(f.Message))
}

// escapeData and escapeProperty follow the workflow-command encoding.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// syncWriter lets a task hand its writer to several goroutines (a tool's
// stdout and stderr copiers).
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// lineWriter calls emit once per complete line.
type lineWriter struct {
	buf  bytes.Buffer
	emit func(string)
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.buf.Write(b)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			// Incomplete line: keep it for the next write.
			l.buf.Reset()
			l.buf.WriteString(line)
			return len(b), nil
		}
		l.emit(strings.TrimRight(line, "\r\n"))
	}
}
