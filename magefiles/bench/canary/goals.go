package canary

import (
	"fmt"
	"math"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/judge"
)

// GoalResult is one goal over the cells it applies to.
type GoalResult struct {
	Goal   string   `json:"goal"`
	Cells  int      `json:"cells"`
	Missed []string `json:"missed"`
}

// The goals, by candidate and traffic.
func goal(c Cell) (string, bool) {
	s, runs := c.Sequential, float64(c.Runs)
	switch {
	case c.Candidate.Name == "identical":
		return "identical aborted <= 1%", float64(s.Aborts) <= 0.01*runs
	case c.Candidate.Name == "3x" && c.CanaryRPM >= 300:
		return "3x caught >= 90% within 15 min", float64(s.AbortedBy15) >= 0.9*runs
	case c.Candidate.Name == "6x" && c.CanaryRPM >= 100:
		return "6x caught >= 95%", float64(s.Aborts) >= 0.95*runs
	case c.Candidate.Name == "+5pp" && c.CanaryRPM >= 100:
		return "+5pp caught >= 99% within 5 min", float64(s.AbortedBy5) >= 0.99*runs
	}
	return "", true
}

// horizon is the minutes a goal allows (0: no goal for a bad candidate).
func horizon(c Cell, cfg judge.Config) int {
	switch {
	case c.Goal == "" || !c.Candidate.Bad():
		return 0
	case strings.Contains(c.Goal, "15 min"):
		return 15
	case strings.Contains(c.Goal, "5 min"):
		return 5
	}
	return cfg.MaxMinutes
}

// oraclePower is P(Poisson(l1) >= k) for the smallest k with
// P(Poisson(l0) >= k) <= alpha.
func oraclePower(l0, l1, alpha float64) float64 {
	tail := func(l float64, k int) float64 { // P(X >= k), pmf in log space
		cdf := 0.0
		for i := 0; i < k; i++ {
			lg, _ := math.Lgamma(float64(i + 1))
			cdf += math.Exp(-l + float64(i)*math.Log(l) - lg)
		}
		return math.Max(1-cdf, 0)
	}
	if l0 <= 0 {
		return 1
	}
	k := int(l0)
	for tail(l0, k) > alpha {
		k++
	}
	return tail(l1, k)
}

func goals(cells []Cell) []GoalResult {
	byGoal := map[string]*GoalResult{}
	var order []string
	for _, c := range cells {
		if c.Goal == "" {
			continue
		}
		g := byGoal[c.Goal]
		if g == nil {
			g = &GoalResult{Goal: c.Goal, Missed: []string{}}
			byGoal[c.Goal] = g
			order = append(order, c.Goal)
		}
		g.Cells++
		if !c.GoalMet {
			miss := fmt.Sprintf("baseline %s, %d req/min", pctf(c.BaselineRate), c.CanaryRPM)
			if c.Oracle != nil {
				miss += fmt.Sprintf(" (best possible %s)", pctf(*c.Oracle))
			}
			g.Missed = append(g.Missed, miss)
		}
	}
	out := make([]GoalResult, 0, len(order))
	for _, k := range order {
		out = append(out, *byGoal[k])
	}
	return out
}
