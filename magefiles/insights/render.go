package insights

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Files are the paths Render wrote.
type Files struct {
	JSON, Markdown, HTML string
}

// Render writes report.json, report.md and report.html into dir.
func Render(r Report, dir string) (Files, error) {
	f := Files{JSON: filepath.Join(dir, "report.json"), Markdown: filepath.Join(dir, "report.md"), HTML: filepath.Join(dir, "report.html")}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return f, fmt.Errorf("report: %w", err)
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return f, err
	}
	if err := os.WriteFile(f.JSON, append(raw, '\n'), 0o644); err != nil {
		return f, fmt.Errorf("report: %w", err)
	}
	var md strings.Builder
	Markdown(&md, r)
	if err := os.WriteFile(f.Markdown, []byte(md.String()), 0o644); err != nil {
		return f, fmt.Errorf("report: %w", err)
	}
	var page strings.Builder
	HTML(&page, r)
	if err := os.WriteFile(f.HTML, []byte(page.String()), 0o644); err != nil {
		return f, fmt.Errorf("report: %w", err)
	}
	return f, nil
}

// Value texts of the four measures, "no data" when there is none.
func (e Environment) frequencyText() string {
	if e.PerWeek == nil {
		return "no deployment in the window"
	}
	return fmt.Sprintf("%.2f per week (%d)", *e.PerWeek, len(e.Deployments))
}

func (e Environment) leadText() string {
	if e.LeadTime == nil {
		return "no data (no deployment with a known first commit)"
	}
	return "median " + time.Duration(*e.LeadTime).Round(time.Second).String()
}

func (e Environment) failureText() string {
	if e.FailureRate == nil {
		return "no change reached traffic"
	}
	return fmt.Sprintf("%.0f%% (%d of %d)", *e.FailureRate*100, len(e.Failures), e.Changes)
}

func (e Environment) restoreText() string {
	if e.Restore == nil {
		if len(e.Failures) == 0 {
			return "no failure"
		}
		return "not restored yet"
	}
	return "median " + time.Duration(*e.Restore).Round(time.Second).String()
}

func bandText(b Band) string {
	if b == "" {
		return "-"
	}
	return string(b)
}

// Markdown writes the report for a GitHub step summary.
func Markdown(w io.Writer, r Report) {
	fmt.Fprintf(w, "## Delivery report, %s to %s\n\n", r.Since.Format("2006-01-02"), r.Until.Format("2006-01-02"))
	if len(r.Environments) == 0 {
		fmt.Fprintln(w, "No environment's records could be read.")
	}
	for _, e := range r.Environments {
		fmt.Fprintf(w, "### %s\n\n| measure | value | band |\n| --- | --- | --- |\n", e.Env)
		fmt.Fprintf(w, "| deployment frequency | %s | %s |\n", e.frequencyText(), bandText(e.Bands.Frequency))
		fmt.Fprintf(w, "| lead time for changes | %s | %s |\n", e.leadText(), bandText(e.Bands.LeadTime))
		fmt.Fprintf(w, "| change failure rate | %s | %s |\n", e.failureText(), bandText(e.Bands.FailureRate))
		fmt.Fprintf(w, "| time to restore service | %s | %s |\n\n", e.restoreText(), bandText(e.Bands.Restore))
		if len(e.Canary) > 0 {
			fmt.Fprintf(w, "Canaries: %s.\n\n", canaryText(e.Canary))
		}
		if len(e.StageMeans) > 0 {
			fmt.Fprintf(w, "Mean stage durations: %s.\n\n", stagesText(e.StageMeans))
		}
	}
	for env, why := range r.Unread {
		fmt.Fprintf(w, "- %s not read: %s\n", env, why)
	}
	fmt.Fprintf(w, "\nBands: %s.\n", BandSource)
}

func canaryText(c map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(c) {
		parts = append(parts, fmt.Sprintf("%s %d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}

// stagesText lists the stages' mean durations, longest first.
func stagesText(m map[string]Duration) string {
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %s", k, time.Duration(m[k]).Round(time.Millisecond))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// HTML writes a self-contained page: the measures per environment and
// their charts as inline SVG (nothing is fetched to view it).
func HTML(w io.Writer, r Report) {
	esc := html.EscapeString
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Delivery report</title>\n")
	fmt.Fprint(w, "<style>body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}svg{margin:.5em 0}</style></head><body>\n")
	fmt.Fprintf(w, "<h1>Delivery report</h1><p>%s to %s</p>\n", r.Since.Format("2006-01-02"), r.Until.Format("2006-01-02"))
	for _, e := range r.Environments {
		fmt.Fprintf(w, "<h2>%s</h2>\n<table><tr><th>measure</th><th>value</th><th>band</th></tr>\n", esc(e.Env))
		for _, row := range [][3]string{
			{"deployment frequency", e.frequencyText(), bandText(e.Bands.Frequency)},
			{"lead time for changes", e.leadText(), bandText(e.Bands.LeadTime)},
			{"change failure rate", e.failureText(), bandText(e.Bands.FailureRate)},
			{"time to restore service", e.restoreText(), bandText(e.Bands.Restore)},
		} {
			fmt.Fprintf(w, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>\n", esc(row[0]), esc(row[1]), esc(row[2]))
		}
		fmt.Fprint(w, "</table>\n")
		var labels []string
		var leads []float64
		for _, d := range e.Deployments {
			labels = append(labels, d.Release)
			v := 0.0
			if d.LeadTime != nil {
				v = time.Duration(*d.LeadTime).Hours()
			}
			leads = append(leads, v)
		}
		fmt.Fprint(w, BarChart("Lead time per deployment (hours)", labels, leads))
		labels, leads = nil, nil
		for _, f := range e.Failures {
			labels = append(labels, f.Release+" ("+f.Kind+")")
			v := 0.0
			if f.Restore != nil {
				v = time.Duration(*f.Restore).Minutes()
			}
			leads = append(leads, v)
		}
		fmt.Fprint(w, BarChart("Time to restore per failure (minutes)", labels, leads))
		if len(e.Canary) > 0 {
			fmt.Fprintf(w, "<p>Canaries: %s.</p>\n", esc(canaryText(e.Canary)))
		}
		if len(e.StageMeans) > 0 {
			fmt.Fprintf(w, "<p>Mean stage durations: %s.</p>\n", esc(stagesText(e.StageMeans)))
		}
	}
	for _, env := range sortedKeys(r.Unread) {
		fmt.Fprintf(w, "<p>%s not read: %s</p>\n", esc(env), esc(r.Unread[env]))
	}
	fmt.Fprintf(w, "<p>Bands: %s.</p>\n</body></html>\n", esc(BandSource))
}

// BarChart draws values as horizontal bars with their labels, as SVG. No
// value draws a line saying so.
func BarChart(title string, labels []string, values []float64) string {
	esc := html.EscapeString
	const width, bar, gap, labelW = 600, 18, 6, 220
	h := 30 + len(values)*(bar+gap)
	if len(values) == 0 {
		h = 50
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"%s\">\n", width, h, esc(title))
	fmt.Fprintf(&b, "<text x=\"0\" y=\"16\" font-size=\"14\">%s</text>\n", esc(title))
	if len(values) == 0 {
		fmt.Fprint(&b, "<text x=\"0\" y=\"40\" font-size=\"12\">no data in the window</text>\n</svg>\n")
		return b.String()
	}
	top := 0.0
	for _, v := range values {
		top = math.Max(top, v)
	}
	for i, v := range values {
		y := 26 + i*(bar+gap)
		length := 0.0
		if top > 0 {
			length = v / top * float64(width-labelW-80)
		}
		fmt.Fprintf(&b, "<text x=\"0\" y=\"%d\" font-size=\"12\">%s</text>\n", y+13, esc(labels[i]))
		fmt.Fprintf(&b, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#4a7bd0\"/>\n", labelW, y, length, bar)
		fmt.Fprintf(&b, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\">%s</text>\n", float64(labelW)+length+4, y+13, strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), "."))
	}
	fmt.Fprint(&b, "</svg>\n")
	return b.String()
}
