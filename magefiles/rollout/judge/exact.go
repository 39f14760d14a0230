package judge

import "math"

// dist is a probability mass function on the integers Lo, Lo+1, ...; mass
// too small to matter is trimmed from its ends and counted by the owner as
// slack, which every tail probability then adds back, so trimming can only
// make a p-value larger.
type dist struct {
	Lo int       `json:"lo"`
	P  []float64 `json:"p"`
}

// trimBelow is the mass under which a point at either end is dropped.
const trimBelow = 1e-16

// point is the distribution of the constant 0.
func point() dist { return dist{P: []float64{1}} }

// hypergeometric is the distribution of the candidate's errors x when e
// errors fall at random on nc candidate and nb baseline requests, trimmed
// at both ends; dropped is the trimmed mass.
func hypergeometric(nc, nb, e int) (d dist, dropped float64) {
	lo, hi := max(0, e-nb), min(e, nc)
	if lo >= hi {
		return dist{Lo: lo, P: []float64{1}}, 0
	}
	logC := func(n, k int) float64 {
		a, _ := math.Lgamma(float64(n + 1))
		b, _ := math.Lgamma(float64(k + 1))
		c, _ := math.Lgamma(float64(n - k + 1))
		return a - b - c
	}
	mode := int(math.Floor(float64(e+1) * float64(nc+1) / float64(nc+nb+2)))
	mode = min(max(mode, lo), hi)
	at := math.Exp(logC(nc, mode) + logC(nb, e-mode) - logC(nc+nb, e))
	// Walk down and up from the mode with the pmf's ratio
	// p(x+1)/p(x) = (nc-x)(e-x) / ((x+1)(nb-e+x+1)).
	down := []float64{}
	p := at
	for x := mode; x > lo; x-- {
		p *= float64(x) * float64(nb-e+x) / (float64(nc-x+1) * float64(e-x+1))
		if p < trimBelow {
			break
		}
		down = append(down, p)
	}
	up := []float64{}
	p = at
	for x := mode; x < hi; x++ {
		p *= float64(nc-x) * float64(e-x) / (float64(x+1) * float64(nb-e+x+1))
		if p < trimBelow {
			break
		}
		up = append(up, p)
	}
	d = dist{Lo: mode - len(down), P: make([]float64, 0, len(down)+1+len(up))}
	for i := len(down) - 1; i >= 0; i-- {
		d.P = append(d.P, down[i])
	}
	d.P = append(d.P, at)
	d.P = append(d.P, up...)
	sum := 0.0
	for _, v := range d.P {
		sum += v
	}
	return d, math.Max(1-sum, 0)
}

// convolve is the distribution of the sum of independent draws from a and
// b, trimmed at both ends; dropped is the trimmed mass.
func convolve(a, b dist) (out dist, dropped float64) {
	if len(a.P) == 0 {
		return a, 0
	}
	p := make([]float64, len(a.P)+len(b.P)-1)
	for i, u := range a.P {
		if u == 0 {
			continue
		}
		for j, v := range b.P {
			p[i+j] += u * v
		}
	}
	lo, hi := 0, len(p)
	for lo < hi && p[lo] < trimBelow {
		dropped += p[lo]
		lo++
	}
	for hi > lo && p[hi-1] < trimBelow {
		dropped += p[hi-1]
		hi--
	}
	return dist{Lo: a.Lo + b.Lo + lo, P: p[lo:hi:hi]}, dropped
}

// tail is P(X >= k) of the (sub-)distribution.
func (d dist) tail(k int) float64 {
	sum := 0.0
	for i := len(d.P) - 1; i >= 0 && d.Lo+i >= k; i-- {
		sum += d.P[i]
	}
	return sum
}

// boundary is the smallest k with tail(k) + slack <= level (MaxInt when
// there is none).
func (d dist) boundary(level, slack float64) int {
	if slack > level {
		return math.MaxInt
	}
	k := d.Lo + len(d.P)
	sum := slack
	for i := len(d.P) - 1; i >= 0; i-- {
		sum += d.P[i]
		if sum > level {
			break
		}
		k = d.Lo + i
	}
	return k
}

// cut removes the mass at k and above: the paths a look has rejected.
func (d dist) cut(k int) dist {
	n := min(max(k-d.Lo, 0), len(d.P))
	return dist{Lo: d.Lo, P: d.P[:n:n]}
}

// Look is one fixed look of the exact test: at the Minute-th minute
// judged, the candidate's Errors of the endpoint's Total are rejected when
// they reach Boundary, the smallest count an identical candidate, not
// rejected at an earlier look, reaches with probability at most Level; P is
// that probability at the observed count.
type Look struct {
	Minute   int     `json:"minute"`
	Level    float64 `json:"level"`
	Errors   int     `json:"candidate_errors"`
	Total    int     `json:"errors"`
	Boundary int     `json:"boundary"`
	P        float64 `json:"p"`
	Rejected bool    `json:"rejected"`
}

// earlyLooks are the minutes, besides the maximum duration, at which the
// exact test looks: the horizons by which the canary is meant to have
// caught a much worse candidate (5 minutes) and a three times worse one
// (15 minutes).
var earlyLooks = [...]int{5, 15}

type lookPlan struct {
	minute int
	level  float64
}

// looks are the exact test's looks: at 5 and 15 minutes when before the
// maximum duration, and at the maximum duration, sharing three quarters of
// the error test's alpha equally.
func (c Config) looks() []lookPlan {
	var minutes []int
	for _, m := range earlyLooks {
		if m < c.MaxMinutes {
			minutes = append(minutes, m)
		}
	}
	minutes = append(minutes, c.MaxMinutes)
	out := make([]lookPlan, len(minutes))
	for i, m := range minutes {
		out[i] = lookPlan{m, c.errorAlpha() * (1 - sequentialShare) / float64(len(minutes))}
	}
	return out
}

// exactMinute folds a minute into the exact test: the minute's
// hypergeometric law into the null distribution of the candidate's errors
// and, at a look, the boundary, the verdict and the cut of the paths it
// rejects.
func (s State) exactMinute(c Config, cand, base Counts) State {
	plan := c.looks()
	if s.Minutes > plan[len(plan)-1].minute {
		return s
	}
	if s.null.P == nil {
		s.null = point()
	}
	nc, nb := int(math.Round(cand.Requests)), int(math.Round(base.Requests))
	x, e := int(math.Round(cand.Errors())), int(math.Round(cand.Errors()+base.Errors()))
	if nc > 0 && nb > 0 && e > 0 {
		h, d1 := hypergeometric(nc, nb, e)
		n, d2 := convolve(s.null, h)
		s.null, s.slack = n, s.slack+d1+d2
		s.errors += x
		s.errorTotal += e
	}
	for _, l := range plan {
		if l.minute != s.Minutes {
			continue
		}
		k := s.null.boundary(l.level, s.slack)
		lk := Look{Minute: s.Minutes, Level: l.level, Errors: s.errors, Total: s.errorTotal, Boundary: k,
			P: math.Min(1, s.null.tail(s.errors)+s.slack), Rejected: s.errors >= k}
		s.Looks = append(s.Looks[:len(s.Looks):len(s.Looks)], lk)
		s.null = s.null.cut(k)
	}
	return s
}
