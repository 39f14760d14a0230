// Package binomial draws binomial counts: the errors of a simulated
// minute, for the canary benchmark and the judge's own statistical tests.
// Draws come from the caller's generator, so a seeded simulation gives the
// same counts on every run.
package binomial

import (
	"math"
	"math/rand/v2"
)

// Draw draws Binomial(n, p): by inversion for small means, by the normal
// approximation with continuity correction for large ones.
func Draw(rng *rand.Rand, n, p float64) float64 {
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
