package serving

import (
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

func TestLatencyDistribution(t *testing.T) {
	rng := mrand.New(core.NewRandom(0x5eed)) // #nosec G404 -- the server's default seed
	l := Latency{Median: 100 * time.Millisecond, P99: 400 * time.Millisecond}
	const n = 20000
	var below, above int
	for range n {
		d := l.draw(rng)
		if d <= 100*time.Millisecond {
			below++
		}
		if d > 400*time.Millisecond {
			above++
		}
		require.LessOrEqual(t, d, 4*l.P99)
	}
	assert.InDelta(t, 0.5, float64(below)/n, 0.02, "median")
	assert.InDelta(t, 0.01, float64(above)/n, 0.004, "p99")
	assert.Equal(t, 30*time.Millisecond, FixedLatency(30*time.Millisecond).draw(rng))
}
