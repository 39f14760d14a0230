package canary

import (
	"math"
	"math/rand/v2"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bench/canary/binomial"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bench/canary/thresholds"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/judge"
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

// ThresholdJudge is the fixed-threshold judge (package thresholds) the
// sequential judge is measured against.
type ThresholdJudge struct {
	Policy thresholds.Policy `json:"policy"`
	Limits thresholds.Limits `json:"limits"`
}

// DefaultThresholdJudge is the settings a threshold judge typically gets:
// max_error_rate 1%, margin 0.5%, min_requests 50, 5 successful intervals
// to promote, abort at 2 failed or 3 inconclusive ones, one-minute
// intervals, latency off.
func DefaultThresholdJudge() ThresholdJudge {
	return ThresholdJudge{
		Policy: thresholds.Policy{MaxErrorRate: 0.01, ErrorRateMargin: 0.005, MinRequests: 50},
		Limits: thresholds.Limits{Count: 5, FailureLimit: 2, InconclusiveLimit: 3, ConsecutiveErrorLimit: 3},
	}
}

// Simulate runs the grid: per-minute request counts fixed at the cell's
// rates, error counts binomial (normal approximation when n*p*(1-p) > 50),
// errors fed to the threshold judge as 5xx (the only errors it counts) and to the
// sequential judge as 4xx (model errors). Latency is not simulated: the
// sequential judge keeps all of alpha for errors, as on a workspace that
// exports no latency.
func Simulate(cfg judge.Config, th ThresholdJudge, g Grid) Report {
	rng := rand.New(rand.NewPCG(g.Seed, g.Seed^0x9e3779b97f4a7c15)) // #nosec G404 -- reproducible simulation
	rep := Report{Config: cfg, Thresholds: th, Grid: g}
	for _, p := range g.BaselineRates {
		for _, rpm := range g.CanaryRPM {
			for _, cand := range g.Candidates {
				c := Cell{BaselineRate: p, CanaryRPM: rpm, Candidate: cand, Runs: g.Runs}
				nc := float64(rpm)
				nb := math.Round(nc * float64(100-g.CanaryPercent) / float64(g.CanaryPercent))
				var seqMin, thMin int
				for range g.Runs {
					o, m := runSequential(cfg, rng, nc, nb, p, cand.Rate(p))
					c.Sequential.add(o, m)
					seqMin += m
					o, m = runThresholds(th, rng, nc, nb, p, cand.Rate(p), cfg.MaxMinutes)
					c.Thresholds.add(o, m)
					thMin += m
				}
				c.Sequential.MeanMinutes = float64(seqMin) / float64(g.Runs)
				c.Thresholds.MeanMinutes = float64(thMin) / float64(g.Runs)
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

func (t *Tally) add(o judge.Outcome, minutes int) {
	switch o {
	case judge.Abort:
		t.Aborts++
		if minutes <= 5 {
			t.AbortedBy5++
		}
		if minutes <= 15 {
			t.AbortedBy15++
		}
	case judge.Promote:
		t.Promotions++
	case judge.InsufficientTraffic:
		t.Insufficient++
	}
}

func runSequential(cfg judge.Config, rng *rand.Rand, nc, nb, pb, pc float64) (judge.Outcome, int) {
	var s judge.State
	for {
		m := judge.Minute{Candidate: judge.Counts{Requests: nc, Errors4xx: binomial.Draw(rng, nc, pc)}, Baseline: judge.Counts{Requests: nb, Errors4xx: binomial.Draw(rng, nb, pb)}}
		s = judge.Observe(cfg, s, m)
		if d := judge.Decide(cfg, s); d.Outcome.Final() {
			return d.Outcome, s.Minutes
		}
	}
}

func runThresholds(th ThresholdJudge, rng *rand.Rand, nc, nb, pb, pc float64, maxMinutes int) (judge.Outcome, int) {
	var results []thresholds.Result
	for minute := 1; ; minute++ {
		ec, eb := binomial.Draw(rng, nc, pc), binomial.Draw(rng, nb, pb)
		m := thresholds.Measurement{
			Candidate: thresholds.Side{Entity: "cand", Requests: nc, Errors5xx: ec, P95Ms: math.NaN()},
			Baseline:  thresholds.Side{Entity: "base", Requests: nb, Errors5xx: eb, P95Ms: math.NaN()},
		}
		results = append(results, thresholds.Evaluate(m, th.Policy))
		d := thresholds.Decide(results, th.Limits)
		switch {
		case d.Action == thresholds.ActionPromote:
			return judge.Promote, minute
		case d.Action == thresholds.ActionAbort && d.Failed >= th.Limits.FailureLimit:
			return judge.Abort, minute
		case d.Action == thresholds.ActionAbort:
			return judge.InsufficientTraffic, minute
		case minute >= 10*maxMinutes:
			return judge.InsufficientTraffic, minute
		}
	}
}
