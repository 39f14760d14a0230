package judge

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/analysis"
)

// Candidate is how a simulated candidate's error rate relates to the
// baseline's.
type Candidate struct {
	Name string  `json:"name"`
	Mult float64 `json:"mult"` // rate x Mult
	Add  float64 `json:"add"`  // then + Add
}

// Rate is the candidate's error rate next to a baseline rate p.
func (c Candidate) Rate(p float64) float64 { return math.Min(p*c.Mult+c.Add, 1) }

// Bad reports whether the candidate is worse than its baseline.
func (c Candidate) Bad() bool { return c.Mult > 1 || c.Add > 0 }

// Grid is the simulated cells: baseline rates x canary requests per minute x
// candidates.
type Grid struct {
	BaselineRates []float64   `json:"baseline_rates"`
	CanaryRPM     []int       `json:"canary_rpm"`
	Candidates    []Candidate `json:"candidates"`
	// CanaryPercent is the candidate's share of the traffic; the baseline
	// gets the rest.
	CanaryPercent int `json:"canary_percent"`
	Runs          int `json:"runs"`
	Seed          uint64
}

// DefaultGrid is the grid of the canary benchmark.
func DefaultGrid() Grid {
	return Grid{
		BaselineRates: []float64{0.001, 0.005, 0.01, 0.05},
		CanaryRPM:     []int{20, 50, 100, 300, 1000},
		Candidates: []Candidate{
			{Name: "identical", Mult: 1}, {Name: "1.5x", Mult: 1.5}, {Name: "3x", Mult: 3},
			{Name: "6x", Mult: 6}, {Name: "+5pp", Mult: 1, Add: 0.05},
		},
		CanaryPercent: 10, Runs: 2000, Seed: 1,
	}
}

// Tally counts one judge's outcomes over a cell's runs.
type Tally struct {
	Aborts       int     `json:"aborts"`
	Promotions   int     `json:"promotions"`
	Insufficient int     `json:"insufficient_traffic"`
	MeanMinutes  float64 `json:"mean_minutes"`
	// AbortedBy5 and AbortedBy15 count aborts within 5 and 15 minutes.
	AbortedBy5  int `json:"aborted_by_5"`
	AbortedBy15 int `json:"aborted_by_15"`
}

// Cell is one simulated cell with both judges' tallies.
type Cell struct {
	BaselineRate float64   `json:"baseline_rate"`
	CanaryRPM    int       `json:"canary_rpm"`
	Candidate    Candidate `json:"candidate"`
	Runs         int       `json:"runs"`
	Sequential   Tally     `json:"sequential"`
	Thresholds   Tally     `json:"thresholds"`
	// Goal is the goal this cell is held to ("" when none) and GoalMet
	// whether the sequential judge met it.
	Goal    string `json:"goal,omitempty"`
	GoalMet bool   `json:"goal_met"`
	// Oracle is the power at the goal's horizon of the best fixed-sample
	// test at level alpha that knows the baseline rate exactly (one-sided
	// Poisson test of the candidate's errors): no judge can do better, so a
	// goal above it cannot be met in that cell.
	Oracle *float64 `json:"oracle,omitempty"`
}

// OldJudge is today's threshold judge with the bundle's former defaults.
type OldJudge struct {
	Policy analysis.Policy `json:"policy"`
	Limits analysis.Limits `json:"limits"`
}

// DefaultOldJudge is max_error_rate 1%, margin 0.5%, min_requests 50,
// analysis_count 5, failure_limit 2, inconclusive_limit 3, one-minute
// intervals, latency off.
func DefaultOldJudge() OldJudge {
	return OldJudge{
		Policy: analysis.Policy{MaxErrorRate: 0.01, ErrorRateMargin: 0.005, MinRequests: 50},
		Limits: analysis.Limits{Count: 5, FailureLimit: 2, InconclusiveLimit: 3, ConsecutiveErrorLimit: 3},
	}
}

// Report is the benchmark's result.
type Report struct {
	Config   Config   `json:"config"`
	OldJudge OldJudge `json:"old_judge"`
	Grid     Grid     `json:"grid"`
	Cells    []Cell   `json:"cells"`
	// Goals lists each goal with the cells that missed it.
	Goals []GoalResult `json:"goals"`
}

// GoalResult is one goal over the cells it applies to.
type GoalResult struct {
	Goal   string   `json:"goal"`
	Cells  int      `json:"cells"`
	Missed []string `json:"missed"`
}

// Simulate runs the grid: per-minute request counts fixed at the cell's
// rates, error counts binomial (normal approximation when n*p*(1-p) > 50),
// errors fed to the old judge as 5xx (the only errors it counts) and to the
// sequential judge as 4xx (model errors). Latency is not simulated: the
// sequential judge keeps all of alpha for errors, as on a workspace that
// exports no latency.
func Simulate(cfg Config, old OldJudge, g Grid) Report {
	rng := rand.New(rand.NewPCG(g.Seed, g.Seed^0x9e3779b97f4a7c15)) // #nosec G404 -- reproducible simulation
	rep := Report{Config: cfg, OldJudge: old, Grid: g}
	for _, p := range g.BaselineRates {
		for _, rpm := range g.CanaryRPM {
			for _, cand := range g.Candidates {
				c := Cell{BaselineRate: p, CanaryRPM: rpm, Candidate: cand, Runs: g.Runs}
				nc := float64(rpm)
				nb := math.Round(nc * float64(100-g.CanaryPercent) / float64(g.CanaryPercent))
				var seqMin, oldMin int
				for range g.Runs {
					o, m := runSequential(cfg, rng, nc, nb, p, cand.Rate(p))
					c.Sequential.add(o, m)
					seqMin += m
					o, m = runThresholds(old, rng, nc, nb, p, cand.Rate(p), cfg.MaxMinutes)
					c.Thresholds.add(o, m)
					oldMin += m
				}
				c.Sequential.MeanMinutes = float64(seqMin) / float64(g.Runs)
				c.Thresholds.MeanMinutes = float64(oldMin) / float64(g.Runs)
				c.Goal, c.GoalMet = goal(c)
				if h := horizon(c, cfg); h > 0 {
					o := oraclePower(nc*float64(h)*p, nc*float64(h)*cand.Rate(p), cfg.Alpha)
					c.Oracle = &o
				}
				rep.Cells = append(rep.Cells, c)
			}
		}
	}
	rep.Goals = goals(rep.Cells)
	return rep
}

func (t *Tally) add(o Outcome, minutes int) {
	switch o {
	case Abort:
		t.Aborts++
		if minutes <= 5 {
			t.AbortedBy5++
		}
		if minutes <= 15 {
			t.AbortedBy15++
		}
	case Promote:
		t.Promotions++
	case InsufficientTraffic:
		t.Insufficient++
	}
}

func runSequential(cfg Config, rng *rand.Rand, nc, nb, pb, pc float64) (Outcome, int) {
	var s State
	for {
		m := Minute{Candidate: Counts{Requests: nc, Errors4xx: binomial(rng, nc, pc)}, Baseline: Counts{Requests: nb, Errors4xx: binomial(rng, nb, pb)}}
		s = Observe(cfg, s, m)
		if d := Decide(cfg, s); d.Outcome.Final() {
			return d.Outcome, s.Minutes
		}
	}
}

func runThresholds(old OldJudge, rng *rand.Rand, nc, nb, pb, pc float64, maxMinutes int) (Outcome, int) {
	var results []analysis.Result
	for minute := 1; ; minute++ {
		ec, eb := binomial(rng, nc, pc), binomial(rng, nb, pb)
		m := analysis.Measurement{
			Candidate: analysis.Side{Entity: "cand", Requests: nc, Errors5xx: ec, P95Ms: math.NaN()},
			Baseline:  analysis.Side{Entity: "base", Requests: nb, Errors5xx: eb, P95Ms: math.NaN()},
		}
		results = append(results, analysis.Evaluate(m, old.Policy))
		d := analysis.Decide(results, old.Limits)
		switch {
		case d.Action == analysis.ActionPromote:
			return Promote, minute
		case d.Action == analysis.ActionAbort && d.Failed >= old.Limits.FailureLimit:
			return Abort, minute
		case d.Action == analysis.ActionAbort:
			return InsufficientTraffic, minute
		case minute >= 10*maxMinutes:
			return InsufficientTraffic, minute
		}
	}
}

// binomial draws Binomial(n, p): by inversion for small means, by the
// normal approximation with continuity correction for large ones.
func binomial(rng *rand.Rand, n, p float64) float64 {
	if n <= 0 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	if v := n * p * (1 - p); v > 50 {
		x := math.Round(n*p + math.Sqrt(v)*rng.NormFloat64())
		return math.Min(math.Max(x, 0), n)
	}
	// Inversion: walk the pmf from 0.
	q := 1 - p
	pmf := math.Exp(n * math.Log(q))
	u := rng.Float64()
	k := 0.0
	cdf := pmf
	for u > cdf && k < n {
		pmf *= (n - k) / (k + 1) * p / q
		k++
		cdf += pmf
		if pmf < 1e-300 && k > n*p {
			break
		}
	}
	return k
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
func horizon(c Cell, cfg Config) int {
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
