package osv

// bound is one end of a version interval; a nil version is unbounded.
type bound struct {
	v         *Version
	inclusive bool
}

// interval is a contiguous set of versions.
type interval struct {
	lo, hi bound
}

var everything = interval{}

// empty reports whether no version lies in the interval.
func (i interval) empty() bool {
	if i.lo.v == nil || i.hi.v == nil {
		return false
	}
	c := i.lo.v.Compare(*i.hi.v)
	return c > 0 || (c == 0 && !(i.lo.inclusive && i.hi.inclusive))
}

func (i interval) contains(v Version) bool {
	if i.lo.v != nil {
		c := v.Compare(*i.lo.v)
		if c < 0 || (c == 0 && !i.lo.inclusive) {
			return false
		}
	}
	if i.hi.v != nil {
		c := v.Compare(*i.hi.v)
		if c > 0 || (c == 0 && !i.hi.inclusive) {
			return false
		}
	}
	return true
}

// intersect narrows i by j.
func (i interval) intersect(j interval) interval {
	out := i
	if j.lo.v != nil {
		if out.lo.v == nil {
			out.lo = j.lo
		} else if c := j.lo.v.Compare(*out.lo.v); c > 0 || (c == 0 && !j.lo.inclusive) {
			out.lo = j.lo
		}
	}
	if j.hi.v != nil {
		if out.hi.v == nil {
			out.hi = j.hi
		} else if c := j.hi.v.Compare(*out.hi.v); c < 0 || (c == 0 && !j.hi.inclusive) {
			out.hi = j.hi
		}
	}
	return out
}

func atLeast(v Version, inclusive bool) interval {
	return interval{lo: bound{v: &v, inclusive: inclusive}}
}

func below(v Version, inclusive bool) interval {
	return interval{hi: bound{v: &v, inclusive: inclusive}}
}

func exactly(v Version) interval {
	return interval{lo: bound{v: &v, inclusive: true}, hi: bound{v: &v, inclusive: true}}
}

// allowed is the interval a requirement admits, with the versions its !=
// clauses exclude. (!= wildcards only narrow; they are ignored, which can
// only over-report.)
func (r Requirement) allowed() (interval, []Version) {
	in := everything
	var excluded []Version
	for _, s := range r.specs {
		switch s.op {
		case "==", "===":
			if s.wildcard {
				in = in.intersect(atLeast(s.version, true)).intersect(below(bump(s.version, s.version.nseg), false))
			} else {
				in = in.intersect(exactly(s.version))
			}
		case "!=":
			if !s.wildcard {
				excluded = append(excluded, s.version)
			}
		case ">=":
			in = in.intersect(atLeast(s.version, true))
		case ">":
			in = in.intersect(atLeast(s.version, false))
		case "<=":
			in = in.intersect(below(s.version, true))
		case "<":
			in = in.intersect(below(s.version, false))
		case "~=":
			n := s.version.nseg - 1
			if n < 1 {
				n = 1
			}
			in = in.intersect(atLeast(s.version, true)).intersect(below(bump(s.version, n), false))
		}
	}
	return in, excluded
}
