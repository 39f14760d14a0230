package canary

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/judge"
)

// Report is the benchmark's result.
type Report struct {
	Config judge.Config `json:"config"`
	// Thresholds is written as "old_judge", the key readers of
	// canary.json look the threshold judge's settings up by.
	Thresholds ThresholdJudge `json:"old_judge"`
	Grid       Grid           `json:"grid"`
	Cells      []Cell         `json:"cells"`
	// Goals lists each goal with the cells that missed it.
	Goals []GoalResult `json:"goals"`
}

// Markdown renders the report as the table the README quotes.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "canary judges on simulated per-minute binomial counts: %d runs per cell, canary at %d%% of traffic, alpha %g, max %d minutes, min_requests %d\n\n",
		r.Grid.Runs, r.Grid.CanaryPercent, r.Config.Alpha, r.Config.MaxMinutes, r.Config.MinRequests)
	b.WriteString("| baseline | canary req/min | candidate | sequential abort / promote / insufficient | aborted by 5 / 15 min | mean min | thresholds abort / promote / insufficient | mean min | goal |\n")
	b.WriteString("| --- | ---: | --- | --- | --- | ---: | --- | ---: | --- |\n")
	for _, c := range r.Cells {
		s, o, n := c.Sequential, c.Thresholds, float64(c.Runs)
		goal := ""
		if c.Goal != "" {
			goal = "✓ " + c.Goal
			if !c.GoalMet {
				goal = "✗ " + c.Goal
			}
			if c.Oracle != nil {
				goal += " (best possible " + pctf(*c.Oracle) + ")"
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s / %s / %s | %s / %s | %.1f | %s / %s / %s | %.1f | %s |\n",
			pctf(c.BaselineRate), c.CanaryRPM, c.Candidate.Name,
			pctf(float64(s.Aborts)/n), pctf(float64(s.Promotions)/n), pctf(float64(s.Insufficient)/n),
			pctf(float64(s.AbortedBy5)/n), pctf(float64(s.AbortedBy15)/n), s.MeanMinutes,
			pctf(float64(o.Aborts)/n), pctf(float64(o.Promotions)/n), pctf(float64(o.Insufficient)/n), o.MeanMinutes, goal)
	}
	b.WriteString("\n")
	for _, g := range r.Goals {
		if len(g.Missed) == 0 {
			fmt.Fprintf(&b, "- %s: met in all %d cells\n", g.Goal, g.Cells)
			continue
		}
		fmt.Fprintf(&b, "- %s: met in %d of %d cells; missed at %s\n", g.Goal, g.Cells-len(g.Missed), g.Cells, strings.Join(g.Missed, "; "))
	}
	return b.String()
}

func pctf(v float64) string {
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.2f", v*100), "0"), ".0") + "%"
}

// Write stores the report as canary.json and canary.md in dir.
func (r Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("canary bench: %w", err)
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("canary bench: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "canary.json"), append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("canary bench: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "canary.md"), []byte(r.Markdown()), 0o600); err != nil {
		return fmt.Errorf("canary bench: %w", err)
	}
	return nil
}
