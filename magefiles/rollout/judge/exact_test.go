package judge

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bench/canary/binomial"
)

// binom is C(n, k) for small n.
func binom(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}

func TestHypergeometric(t *testing.T) {
	for _, tc := range []struct{ nc, nb, e int }{{10, 10, 5}, {3, 27, 4}, {10, 90, 30}, {5, 2, 6}, {100, 900, 0}} {
		d, dropped := hypergeometric(tc.nc, tc.nb, tc.e)
		assert.InDelta(t, 0, dropped, 1e-12)
		for x := max(0, tc.e-tc.nb); x <= min(tc.e, tc.nc); x++ {
			want := binom(tc.nc, x) * binom(tc.nb, tc.e-x) / binom(tc.nc+tc.nb, tc.e)
			got := 0.0
			if i := x - d.Lo; i >= 0 && i < len(d.P) {
				got = d.P[i]
			}
			assert.InDelta(t, want, got, 1e-12, "%+v x=%d", tc, x)
		}
	}
	// Large margins: trimmed, but what is dropped is counted.
	d, dropped := hypergeometric(1000, 9000, 550)
	sum := 0.0
	for _, v := range d.P {
		sum += v
	}
	assert.InDelta(t, 1, sum+dropped, 1e-12)
	assert.Less(t, len(d.P), 200, "the far tails are trimmed")
	assert.InDelta(t, 55, float64(d.Lo)+mean(d), 1e-6)
}

func mean(d dist) float64 {
	m := 0.0
	for i, v := range d.P {
		m += float64(i) * v
	}
	return m
}

func TestConvolveTailBoundaryCut(t *testing.T) {
	coin := dist{P: []float64{0.5, 0.5}}
	two, dropped := convolve(coin, coin)
	assert.Equal(t, dist{P: []float64{0.25, 0.5, 0.25}}, two)
	assert.Zero(t, dropped)
	shifted, _ := convolve(dist{Lo: 3, P: []float64{1}}, two)
	assert.Equal(t, 3, shifted.Lo)

	assert.InDelta(t, 0.75, two.tail(1), 1e-15)
	assert.InDelta(t, 1, two.tail(-4), 1e-15)
	assert.Zero(t, two.tail(3))
	assert.Equal(t, 2, two.boundary(0.25, 0), "P(X >= 2) = 0.25 is within the level")
	assert.Equal(t, 3, two.boundary(0.2, 0), "nothing in the support is: past it")
	assert.Equal(t, 3, two.boundary(0.25, 0.01), "slack counts against the level")
	assert.Equal(t, math.MaxInt, two.boundary(0.01, 0.02))
	assert.Equal(t, dist{P: []float64{0.25, 0.5}}, two.cut(2))
	assert.Equal(t, dist{P: []float64{}}, two.cut(-1))
	assert.Equal(t, two, two.cut(9))

	tiny := dist{P: []float64{1e-20, 0.5, 0.5, 1e-20}}
	trimmed, dropped := convolve(tiny, point())
	assert.Equal(t, dist{Lo: 1, P: []float64{0.5, 0.5}}, trimmed)
	assert.InDelta(t, 2e-20, dropped, 1e-30)
}

func TestLooks(t *testing.T) {
	tests := []struct {
		cfg     Config
		minutes []int
		level   float64
	}{
		{DefaultConfig(), []int{5, 15, 20}, 0.01 * 0.75 / 3},
		{Config{Alpha: 0.01, MaxMinutes: 10}, []int{5, 10}, 0.01 * 0.75 / 2},
		{Config{Alpha: 0.01, MaxMinutes: 5}, []int{5}, 0.01 * 0.75},
		{Config{Alpha: 0.02, MaxMinutes: 3, Latency: true}, []int{3}, 0.01 * 0.75},
	}
	for _, tt := range tests {
		var minutes []int
		total := 0.0
		for _, l := range tt.cfg.looks() {
			minutes = append(minutes, l.minute)
			assert.InDelta(t, tt.level, l.level, 1e-15)
			total += l.level
		}
		assert.Equal(t, tt.minutes, minutes)
		assert.InDelta(t, tt.cfg.errorAlpha(), total+tt.cfg.sequentialAlpha(), 1e-15, "the looks and the sequential test spend the error alpha")
	}
}

// The exact looks alone, for identical candidates: rejected in at most
// their share of alpha, and not far below it (a test that never rejects
// would pass the bound and catch nothing). The mixture statistic is left
// out by reading only the looks. Seeded: the same on every run.
func TestExactLooksSpendTheirLevel(t *testing.T) {
	cfg := Config{Alpha: 0.2, MaxErrorRatio: 1.5, MaxMinutes: 20, MinRequests: 1}
	share := cfg.Alpha * (1 - sequentialShare)
	rng := rand.New(rand.NewPCG(3, 5))
	const runs = 4000
	for _, p := range []float64{0.01, 0.05} {
		rejections := 0
		for range runs {
			var s State
			for range cfg.MaxMinutes {
				s = Observe(cfg, s, minute(100, binomial.Draw(rng, 100, p), 0, 900, binomial.Draw(rng, 900, p), 0))
			}
			require.Len(t, s.Looks, 3)
			if rejected(s.Looks) != nil {
				rejections++
			}
		}
		rate := float64(rejections) / runs
		assert.LessOrEqual(t, rate, share, "baseline %v", p)
		assert.Greater(t, rate, share/2, "baseline %v: the looks spend most of their level", p)
	}
}
