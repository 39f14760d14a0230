package thresholds

import (
	"fmt"
	"math"
)

// Side is one served entity's numbers for an interval.
type Side struct {
	Entity    string
	Requests  float64
	Errors4xx float64
	Errors5xx float64
	// Rate4xx, Rate5xx and ErrorRate are fractions of Requests (0.05 is 5%),
	// clamped to [0, 1], NaN when there were no requests.
	Rate4xx float64
	Rate5xx float64
	// ErrorRate is what the error limits judge. Only 5xx counts: a 4xx is
	// caused by the caller's request, not by the model serving it.
	ErrorRate float64
	// P95Ms is NaN when unknown (no latency observations).
	P95Ms float64
	// Reset is set when a counter of this entity was reset in the interval.
	Reset bool
}

// Served reports whether the entity answered any request in the interval.
func (s Side) Served() bool { return s.Requests > 0 }

// P95Known reports whether the entity's p95 is known.
func (s Side) P95Known() bool { return !math.IsNaN(s.P95Ms) }

// Measurement puts the candidate and the baseline of one interval side by
// side. Baseline.Entity is empty when there is no baseline (first release).
type Measurement struct {
	Candidate Side
	Baseline  Side
}

// rate is part/whole in [0, 1]. Scrapes are not atomic and counters can
// reset independently, so part may exceed whole; clamp rather than report
// a rate above 100%.
func rate(part, whole float64) float64 {
	if whole <= 0 {
		return math.NaN()
	}
	return math.Min(math.Max(part/whole, 0), 1)
}

func checkCount(v float64) error {
	switch {
	case math.IsNaN(v), math.IsInf(v, 0):
		return fmt.Errorf("value %v is not a finite count", v)
	case v < 0:
		return fmt.Errorf("negative count %v", v)
	}
	return nil
}
