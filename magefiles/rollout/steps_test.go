package rollout

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/judge"
)

func TestPlanFromPolicy(t *testing.T) {
	t.Run("defaults without a bundle policy", func(t *testing.T) {
		p := PlanFromPolicy(nil)
		assert.Equal(t, []Step{SetWeight(10), Analyze(time.Minute), Promote()}, p.Steps)
		assert.Equal(t, judge.DefaultConfig(), p.Judge)
		assert.Nil(t, p.Probe)
		require.NoError(t, p.Validate())
	})
	t.Run("the bundle's variables", func(t *testing.T) {
		p := PlanFromPolicy(&bundle.RolloutPolicy{
			CanaryPercent: 25, AnalysisInterval: 2 * time.Minute, Alpha: 0.02, MaxErrorRatio: 2, MaxDuration: 30 * time.Minute, MinRequests: 100,
		})
		assert.Equal(t, []Step{SetWeight(25), Analyze(2 * time.Minute), Promote()}, p.Steps)
		assert.Equal(t, judge.Config{Alpha: 0.02, MaxErrorRatio: 2, MaxMinutes: 30, MinRequests: 100}, p.Judge)
		require.NoError(t, p.Validate())
	})
	t.Run("the repository's bundle", func(t *testing.T) {
		for _, name := range []string{"dev", "staging", "prod"} {
			b, diags := bundle.Load("../..", bundle.LoadOptions{Target: name, CurrentUser: "deployer@example.com"})
			require.False(t, diags.HasError(), "%s: %v", name, diags)
			require.NotNil(t, b.Rollout, name)
			require.NoError(t, PlanFromPolicy(b.Rollout).Validate(), name)
		}
	})
}

func TestPlanValidate(t *testing.T) {
	good := testPlan()
	tests := []struct {
		name  string
		edit  func(p *Plan)
		wants []string
	}{
		{"no steps", func(p *Plan) { p.Steps = nil }, []string{"no steps"}},
		{"weight 0", func(p *Plan) { p.Steps[0] = SetWeight(-5) }, []string{"setWeight -5 must be between 1 and 99"}},
		{"weight 100", func(p *Plan) { p.Steps[0] = SetWeight(100) }, []string{"setWeight 100 must be between 1 and 99"}},
		{"analyze first", func(p *Plan) {
			p.Steps = []Step{Analyze(time.Minute), SetWeight(10), Analyze(time.Minute), Promote()}
		}, []string{"analyze before any setWeight"}},
		{"unjudged weight", func(p *Plan) { p.Steps = []Step{SetWeight(10), SetWeight(50), Analyze(time.Minute), Promote()} }, []string{"setWeight 10 must be followed by analyze"}},
		{"promote without analysis", func(p *Plan) { p.Steps = []Step{SetWeight(10), Promote()} }, []string{"must be followed by analyze"}},
		{"promote not last", func(p *Plan) {
			p.Steps = []Step{SetWeight(10), Analyze(time.Minute), Promote(), Analyze(time.Minute)}
		}, []string{"promote must be the last step", "the last step must be promote"}},
		{"no interval", func(p *Plan) { p.Steps[1] = Analyze(0) }, []string{"interval 0s must be a whole number of minutes"}},
		{"half a minute", func(p *Plan) { p.Steps[1] = Analyze(30 * time.Second) }, []string{"interval 30s must be a whole number of minutes"}},
		{"two kinds in a step", func(p *Plan) { p.Steps[2] = Step{SetWeight: 5, Promote: true} }, []string{"exactly one of"}},
		{"empty step", func(p *Plan) { p.Steps[1] = Step{} }, []string{"exactly one of"}},
		{"bad judge", func(p *Plan) { p.Judge.Alpha = 2 }, []string{"alpha 2"}},
		{"bad scrape limit", func(p *Plan) { p.ScrapeErrorLimit = -1 }, []string{"scrape error limit -1"}},
		{"bad probe", func(p *Plan) { p.Probe = &Probe{Rate: math.NaN(), Cap: 0} }, []string{"probe rate NaN", "probe cap 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			p.Steps = append([]Step(nil), good.Steps...)
			tt.edit(&p)
			err := p.Validate()
			require.Error(t, err)
			for _, w := range tt.wants {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	require.NoError(t, good.Validate())
}

func TestStepString(t *testing.T) {
	assert.Equal(t, "setWeight 10%", SetWeight(10).String())
	assert.Equal(t, "analyze every 1m0s", Analyze(time.Minute).String())
	assert.Equal(t, "promote", Promote().String())
	assert.Equal(t, "empty step", Step{}.String())
}

func TestWithProbes(t *testing.T) {
	p := PlanFromPolicy(nil).WithProbes() // 2 x 500 candidate requests in 20 minutes at 10%, every minute
	require.NotNil(t, p.Probe)
	assert.Equal(t, 500, p.Probe.Cap)
	assert.InDelta(t, 500.0/60, p.Probe.Rate, 1e-9)
	assert.Equal(t, 500, p.Probe.PerInterval(time.Minute))
	require.NoError(t, p.Validate())

	multi := testPlan() // 2 x 100 in 5 minutes
	multi.Steps = []Step{SetWeight(20), Analyze(2 * time.Minute), SetWeight(50), Analyze(time.Minute), Promote()}
	assert.Equal(t, 200, multi.WithProbes().Probe.Cap, "sized for the smallest weight, per minute of the shortest interval")
}

func TestProbe(t *testing.T) {
	p := &Probe{Rate: 2.5, Cap: 100}
	require.NoError(t, p.Validate())
	assert.Equal(t, 25, p.PerInterval(10*time.Second))
	assert.Equal(t, 100, p.PerInterval(time.Hour), "capped")
	assert.Equal(t, 1, p.PerInterval(100*time.Millisecond), "rounded up")

	err := (&Probe{Rate: -1, Cap: MaxProbesPerInterval + 1, Concurrency: 65}).Validate()
	require.Error(t, err)
	for _, w := range []string{"probe rate -1", "probe cap 10001", "probe concurrency 65"} {
		assert.Contains(t, err.Error(), w)
	}
	assert.Error(t, (&Probe{Rate: math.Inf(1), Cap: 1}).Validate())
}
