package servingmetrics

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// Histogram is a latency histogram in milliseconds.
type Histogram struct {
	// Bounds are the finite bucket upper bounds, ascending.
	Bounds []float64
	// Counts[i] is the number of observations <= Bounds[i].
	Counts []float64
	// Total is the number of observations, the +Inf bucket.
	Total float64
	// Sum is the sum of all observations.
	Sum float64
}

// Empty reports whether the histogram holds no observations.
func (h Histogram) Empty() bool { return h.Total <= 0 }

// Quantile estimates the q-quantile (0 <= q <= 1) the way Prometheus'
// histogram_quantile does: find the bucket holding the rank and interpolate
// linearly inside it, the first bucket starting at 0. A rank in the +Inf
// bucket reports the highest finite bound. NaN when there are no
// observations or no finite buckets.
func (h Histogram) Quantile(q float64) float64 {
	if h.Total <= 0 || len(h.Bounds) == 0 || math.IsNaN(q) || q < 0 || q > 1 {
		return math.NaN()
	}
	rank := q * h.Total
	i := sort.Search(len(h.Counts), func(i int) bool { return h.Counts[i] >= rank })
	if i == len(h.Counts) {
		return h.Bounds[len(h.Bounds)-1]
	}
	end := h.Bounds[i]
	start, below := 0.0, 0.0
	if i > 0 {
		start, below = h.Bounds[i-1], h.Counts[i-1]
	} else if end <= 0 {
		return end
	}
	inBucket := h.Counts[i] - below
	if inBucket <= 0 {
		return end
	}
	return start + (end-start)*(rank-below)/inBucket
}

// Above is the number of observations above bound b: those not in a bucket
// whose upper bound is <= b.
func (h Histogram) Above(b float64) float64 {
	return math.Max(h.Total-h.countAt(b), 0)
}

// Add merges two histograms of the same quantity. Layouts may differ: the
// result has the union of bounds, and a histogram lacking a bound
// contributes its count at its nearest bound below (an undercount, never an
// invented observation).
func (h Histogram) Add(o Histogram) Histogram { return mergeHistograms([]Histogram{h, o}) }

// delta is cur-prev bucket by bucket; a histogram that went backwards, or
// whose layout changed, was reset and cur is the increase.
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
	out := Histogram{Bounds: cur.Bounds, Counts: make([]float64, len(cur.Counts)), Total: cur.Total - prev.Total, Sum: cur.Sum - prev.Sum}
	for i := range cur.Counts {
		if cur.Counts[i] < prev.Counts[i] {
			return cur, true
		}
		out.Counts[i] = cur.Counts[i] - prev.Counts[i]
	}
	// Scrapes are not atomic: keep the delta cumulative and within its total.
	for i := 1; i < len(out.Counts); i++ {
		out.Counts[i] = math.Max(out.Counts[i], out.Counts[i-1])
	}
	if n := len(out.Counts); n > 0 {
		out.Total = math.Max(out.Total, out.Counts[n-1])
	}
	return out, false
}

type bucket struct {
	bound float64
	count float64
}

// rawHist is one series' histogram as exposed, before checks.
type rawHist struct {
	buckets []bucket
	count   *float64
	sum     float64
}

// normalize sorts and checks the buckets and settles the total: the +Inf
// bucket if present, else _count, else the highest bucket.
func (r rawHist) normalize() (Histogram, error) {
	bs := slices.Clone(r.buckets)
	slices.SortFunc(bs, func(x, y bucket) int {
		switch {
		case x.bound < y.bound:
			return -1
		case x.bound > y.bound:
			return 1
		}
		return 0
	})
	var h Histogram
	inf := math.NaN()
	for i, b := range bs {
		if math.IsNaN(b.bound) {
			return Histogram{}, fmt.Errorf("bucket bound is NaN")
		}
		if err := checkCount(b.count); err != nil {
			return Histogram{}, fmt.Errorf("bucket le=%v: %w", b.bound, err)
		}
		if i > 0 && bs[i-1].bound == b.bound {
			return Histogram{}, fmt.Errorf("two buckets with le=%v", b.bound)
		}
		if i > 0 && b.count < bs[i-1].count {
			return Histogram{}, fmt.Errorf("bucket le=%v has %v observations, fewer than le=%v with %v", b.bound, b.count, bs[i-1].bound, bs[i-1].count)
		}
		if math.IsInf(b.bound, 1) {
			inf = b.count
			continue
		}
		h.Bounds = append(h.Bounds, b.bound)
		h.Counts = append(h.Counts, b.count)
	}
	highest := 0.0
	if n := len(h.Counts); n > 0 {
		highest = h.Counts[n-1]
	}
	switch {
	case !math.IsNaN(inf):
		h.Total = inf
	case r.count != nil:
		if err := checkCount(*r.count); err != nil {
			return Histogram{}, fmt.Errorf("_count: %w", err)
		}
		if *r.count < highest {
			return Histogram{}, fmt.Errorf("_count %v is below the highest bucket's %v", *r.count, highest)
		}
		h.Total = *r.count
	default:
		h.Total = highest
	}
	if math.IsNaN(r.sum) || math.IsInf(r.sum, 0) {
		return Histogram{}, fmt.Errorf("_sum %v is not finite", r.sum)
	}
	h.Sum = r.sum
	return h, nil
}

// mergeHistograms adds histograms on the union of their bounds.
func mergeHistograms(hs []Histogram) Histogram {
	var live []Histogram
	for _, h := range hs {
		if len(h.Bounds) > 0 || h.Total > 0 {
			live = append(live, h)
		}
	}
	switch len(live) {
	case 0:
		return Histogram{}
	case 1:
		return live[0]
	}
	var out Histogram
	for _, h := range live {
		out.Bounds = append(out.Bounds, h.Bounds...)
	}
	slices.Sort(out.Bounds)
	out.Bounds = slices.Compact(out.Bounds)
	out.Counts = make([]float64, len(out.Bounds))
	for _, h := range live {
		out.Total += h.Total
		out.Sum += h.Sum
		for i, b := range out.Bounds {
			out.Counts[i] += h.countAt(b)
		}
	}
	return out
}

// countAt is the cumulative count at the largest bound <= b.
func (h Histogram) countAt(b float64) float64 {
	i := sort.SearchFloat64s(h.Bounds, b)
	if i < len(h.Bounds) && h.Bounds[i] == b {
		return h.Counts[i]
	}
	if i == 0 {
		return 0
	}
	return h.Counts[i-1]
}
