package analysis

import (
	"math"
	"slices"
	"sort"
)

// Window is what each served entity did between two scrapes.
type Window struct {
	Entities map[string]EntityWindow
}

// EntityWindow holds one entity's counts over an interval.
type EntityWindow struct {
	Requests  float64
	Errors4xx float64
	Errors5xx float64
	// Latency holds only the interval's observations.
	Latency Histogram
	// P95Ms is the interval's 95th percentile latency in milliseconds, NaN
	// when the interval has no latency observations (unknown, not zero).
	P95Ms float64
	// Reset is set when a counter went backwards (or the histogram layout
	// changed) and the current value was taken as the interval's count.
	Reset bool
}

// P95Known reports whether the interval had latency observations.
func (e EntityWindow) P95Known() bool { return !math.IsNaN(e.P95Ms) }

// Delta returns per-entity counts between prev and cur, two scrapes of the
// same export with prev taken first. Entities missing from cur are left out;
// entities missing from prev count from zero.
func Delta(prev, cur Snapshot) Window {
	w := Window{Entities: make(map[string]EntityWindow, len(cur.Entities))}
	for name, c := range cur.Entities {
		p := prev.Entities[name]
		var e EntityWindow
		var r1, r2, r3, r4 bool
		e.Requests, r1 = counterDelta(p.Requests, c.Requests)
		e.Errors4xx, r2 = counterDelta(p.Errors4xx, c.Errors4xx)
		e.Errors5xx, r3 = counterDelta(p.Errors5xx, c.Errors5xx)
		e.Latency, r4 = histogramDelta(p.Latency, c.Latency)
		e.Reset = r1 || r2 || r3 || r4
		e.P95Ms = e.Latency.Quantile(0.95)
		w.Entities[name] = e
	}
	return w
}

// counterDelta is cur-prev, or cur when the counter was reset.
func counterDelta(prev, cur float64) (float64, bool) {
	if cur < prev {
		return cur, true
	}
	return cur - prev, false
}

// histogramDelta subtracts bucket by bucket. A histogram that went backwards
// anywhere, or whose bucket layout changed, was reset: cur is the delta.
func histogramDelta(prev, cur Histogram) (Histogram, bool) {
	if prev.Total == 0 && len(prev.Bounds) == 0 {
		return cur, false
	}
	if !slices.Equal(prev.Bounds, cur.Bounds) {
		return cur, prev.Total > 0
	}
	if cur.Total < prev.Total {
		return cur, true
	}
	out := Histogram{
		Bounds: cur.Bounds,
		Counts: make([]float64, len(cur.Counts)),
		Total:  cur.Total - prev.Total,
		Sum:    cur.Sum - prev.Sum,
	}
	for i := range cur.Counts {
		if cur.Counts[i] < prev.Counts[i] {
			return cur, true
		}
		out.Counts[i] = cur.Counts[i] - prev.Counts[i]
	}
	// Scrapes are not atomic: keep the delta cumulative, and within its total.
	for i := 1; i < len(out.Counts); i++ {
		out.Counts[i] = math.Max(out.Counts[i], out.Counts[i-1])
	}
	if n := len(out.Counts); n > 0 {
		out.Total = math.Max(out.Total, out.Counts[n-1])
	}
	return out, false
}

// Quantile estimates the q-quantile (0 <= q <= 1) of the observations the way
// Prometheus' histogram_quantile does: find the bucket holding the rank and
// interpolate linearly inside it, the first bucket starting at 0. A rank in
// the +Inf bucket reports the highest finite bound. It returns NaN when
// there are no observations or no finite buckets.
func (h Histogram) Quantile(q float64) float64 {
	if h.Total <= 0 || len(h.Bounds) == 0 || math.IsNaN(q) || q < 0 || q > 1 {
		return math.NaN()
	}
	rank := q * h.Total
	i := sort.Search(len(h.Counts), func(i int) bool { return h.Counts[i] >= rank })
	if i == len(h.Counts) {
		return h.Bounds[len(h.Bounds)-1] // rank is in the +Inf bucket
	}
	end := h.Bounds[i]
	start, below := 0.0, 0.0
	if i > 0 {
		start, below = h.Bounds[i-1], h.Counts[i-1]
	} else if end <= 0 {
		return end // no room to interpolate below a non-positive first bound
	}
	inBucket := h.Counts[i] - below
	if inBucket <= 0 {
		return end
	}
	return start + (end-start)*(rank-below)/inBucket
}
