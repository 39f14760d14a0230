package judge

import (
	"fmt"
	"strconv"
	"strings"
)

// Line renders one minute's judgement for printing live: the minute's
// counts, the shares so far, each statistic and its distance to the
// boundary, and at an exact look its boundary.
//
//	minute 3: cand 97 req (4xx 20, 5xx 1), base 903 req (4xx 9, 5xx 0) | shares: traffic 9.7%, errors 70.0% (4xx 69.0%, 5xx 100.0%) | errors log-LR 12.31, abort at 5.99 (crossed) | latency ... | Abort
func Line(m Minute, d Decision) string {
	var b strings.Builder
	fmt.Fprintf(&b, "minute %d: cand %s, base %s", d.Minutes, countsText(m.Candidate), countsText(m.Baseline))
	if m.CandidateAbsent {
		b.WriteString(" (candidate absent from the export)")
	}
	fmt.Fprintf(&b, " | shares: traffic %s, errors %s (4xx %s, 5xx %s)", pct(d.TrafficShare), pct(d.ErrorShare), pct(d.Share4xx), pct(d.Share5xx))
	fmt.Fprintf(&b, " | errors log-LR %.2f, abort at %.2f (%s), promote-LR %.2f at %.2f", d.ErrorStat, d.AbortAt, distance(d.ErrorStat, d.AbortAt), d.PromoteStat, d.PromoteAt)
	if n := len(d.Looks); n > 0 && d.Looks[n-1].Minute == d.Minutes {
		l := d.Looks[n-1]
		fmt.Fprintf(&b, " | exact look: cand %d of %d errors, abort at %d (p %.2g, level %.2g)", l.Errors, l.Total, l.Boundary, l.P, l.Level)
	}
	if d.LatencyStat != nil {
		fmt.Fprintf(&b, " | latency: slow %s cand / %s base, log-LR %.2f, abort at %.2f (%s)", count(d.SlowCandidate), count(d.SlowBaseline), *d.LatencyStat, *d.LatencyAbortAt, distance(*d.LatencyStat, *d.LatencyAbortAt))
	} else {
		b.WriteString(" | latency " + d.Latency)
	}
	b.WriteString(" | " + string(d.Outcome))
	return b.String()
}

// Summary is the decision in one line with the ratio estimate.
func (d Decision) Summary() string {
	return fmt.Sprintf("%s: %s; error ratio %s; latency %s", d.Outcome, d.Reason, ratioText(d.Evidence), d.Latency)
}

func countsText(c Counts) string {
	return fmt.Sprintf("%s req (4xx %s, 5xx %s)", count(c.Requests), count(c.Errors4xx), count(c.Errors5xx))
}

func distance(stat, at float64) string {
	if stat >= at {
		return "crossed"
	}
	return fmt.Sprintf("%.2f to go", at-stat)
}

func ratioText(e Evidence) string {
	if e.Ratio == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.2f (95%% %.2f-%.2f)", *e.Ratio, *e.RatioLow, *e.RatioHigh)
}

func pct(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
}

func count(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// String is Summary.
func (d Decision) String() string { return d.Summary() }
