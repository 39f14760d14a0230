package validation

import (
	"fmt"
	"io"
	"strings"
)

// maxListed bounds each list in the Markdown report; the JSON has all.
const maxListed = 25

// WriteMarkdown renders the verdict for people: the decision and why, the
// metrics side by side, the flips, what changed, and the shadow replay.
func (v *Verdict) WriteMarkdown(w io.Writer, title string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s: %s\n\n", title, strings.ToUpper(v.Status()))
	for _, r := range v.Reasons {
		fmt.Fprintf(&b, "- %s\n", r)
	}
	if len(v.Reasons) > 0 {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Evaluation set: %d cases (%s). Floor on must-interrupt recall: %.1f%%. Intervals are 95%% Wilson intervals.\n\n", v.SetCases, v.Set, 100*v.Policy.MinInterruptRecall)
	b.WriteString("| metric | challenger | champion |\n| --- | --- | --- |\n")
	row := func(name string, pick func(*Scorecard) Rate) {
		champ := "—"
		if v.Champion != nil {
			champ = pick(v.Champion).String()
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", name, pick(v.Challenger), champ)
	}
	row("must-interrupt recall", func(s *Scorecard) Rate { return s.InterruptRecall })
	row("false-interrupt rate", func(s *Scorecard) Rate { return s.FalseInterrupt })
	row("tool accuracy", func(s *Scorecard) Rate { return s.ToolAccuracy })
	for _, t := range sortedKeys(v.Challenger.ByTool) {
		row("tool accuracy: "+t, func(s *Scorecard) Rate { return s.ByTool[t] })
	}
	for _, t := range sortedKeys(v.Challenger.ByTag) {
		row("right answers: "+t, func(s *Scorecard) Rate { return s.ByTag[t] })
	}
	b.WriteString("\n")
	if v.Champion != nil {
		flipTable(&b, fmt.Sprintf("Safety flips on the evaluation set (%d)", len(v.Flips)), v.Flips)
		changeTable(&b, fmt.Sprintf("Fixed: right now, wrong before (%d)", len(v.Fixed)), v.Fixed)
		changeTable(&b, fmt.Sprintf("Broke: wrong now, right before (%d)", len(v.Broke)), v.Broke)
	}
	if v.Shadow != nil {
		fmt.Fprintf(&b, "### Shadow replay\n\n%s\n\n", v.Shadow.Summary())
		if v.Shadow.Skipped == "" {
			flipTable(&b, fmt.Sprintf("Safety flips on recorded requests (%d)", len(v.Shadow.Flips)), v.Shadow.Flips)
		}
	}
	missTable(&b, fmt.Sprintf("Challenger misses (%d)", len(v.Challenger.Misses)), v.Challenger.Misses)
	_, err := io.WriteString(w, b.String())
	return err
}

func flipTable(b *strings.Builder, title string, flips []Flip) {
	table(b, title, "| request | message | champion | challenger |", len(flips), func(i int) string {
		f := flips[i]
		return fmt.Sprintf("| %s | %s | %s | %s |", f.ID, cell(f.Message), f.Champion, f.Challenger)
	})
}

func changeTable(b *strings.Builder, title string, changes []Change) {
	table(b, title, "| case | message | expected | champion | challenger |", len(changes), func(i int) string {
		c := changes[i]
		return fmt.Sprintf("| %s | %s | %s | %s | %s |", c.ID, cell(c.Message), expectText(c.Expect), c.Before, c.After)
	})
}

func missTable(b *strings.Builder, title string, misses []Miss) {
	table(b, title, "| case | kind | message | expected | answered |", len(misses), func(i int) string {
		m := misses[i]
		return fmt.Sprintf("| %s | %s | %s | %s | %s |", m.ID, m.Kind(), cell(m.Message), expectText(m.Expect), m.Got)
	})
}

// table writes a titled Markdown table of n rows, at most maxListed of
// them, or "None." when there are none.
func table(b *strings.Builder, title, header string, n int, row func(i int) string) {
	fmt.Fprintf(b, "### %s\n\n", title)
	if n == 0 {
		b.WriteString("None.\n\n")
		return
	}
	b.WriteString(header + "\n|" + strings.Repeat(" --- |", strings.Count(header, "|")-1) + "\n")
	for i := 0; i < n; i++ {
		if i == maxListed {
			fmt.Fprintf(b, "\n… and %d more (all in the JSON report).\n", n-maxListed)
			break
		}
		b.WriteString(row(i) + "\n")
	}
	b.WriteString("\n")
}

func expectText(e Expect) string {
	return Answer{Tool: e.Tool, Interrupted: e.Interrupt}.String()
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
