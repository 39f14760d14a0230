package binomial

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBinomial(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ n, p float64 }{{100, 0.01}, {9000, 0.05}, {50, 0.5}} {
		sum := 0.0
		for range 4000 {
			x := Draw(rng, tc.n, tc.p)
			require.True(t, x >= 0 && x <= tc.n)
			sum += x
		}
		assert.InDelta(t, tc.n*tc.p, sum/4000, 0.05*tc.n*tc.p+0.1, "n %v p %v", tc.n, tc.p)
	}
	assert.Equal(t, 0.0, Draw(rng, 10, 0))
	assert.Equal(t, 10.0, Draw(rng, 10, 1))
}
