package servingmetrics

import (
	"reflect"
	"sort"
	"time"
)

// Window is what each served entity did in one stretch of time: a minute of
// the gauge families, or the interval between two scrapes of the counter
// families.
type Window struct {
	Start, End time.Time
	// Gauge is set for a minute window, unset for a counter interval.
	Gauge    bool
	Entities map[string]Values
	// Reset is set when a counter or cumulative histogram went backwards in
	// the interval and its new value was taken as the increase.
	Reset bool
}

// Has reports whether the entity appears in the window.
func (w Window) Has(entity string) bool {
	_, ok := w.Entities[entity]
	return ok
}

// Entity returns the entity's values (zero when absent).
func (w Window) Entity(name string) Values { return w.Entities[name] }

type windowKey struct {
	start time.Time
	gauge bool
}

// Series folds successive scrapes of one endpoint's export into windows.
// The zero value is ready. It is not safe for concurrent use.
type Series struct {
	windows map[windowKey]*Window // gauge minutes and counter intervals
	handed  map[windowKey]bool
	totals  map[string]Values
	totAt   time.Time
	hasTot  bool
	// LatencyExported is set once a scrape carried request_latency_ms.
	LatencyExported bool
	// Scrapes is how many readings were added.
	Scrapes int
	// Revised counts minutes whose values changed after Next handed them out.
	Revised int
	// Unattributed is the last reading's count of series without an entity.
	Unattributed int
}

// Add folds a reading taken at at into the series. Gauge minutes replace
// what an earlier scrape said of the same minute; counter families add the
// window since the previous scrape (the first scrape only sets the start).
func (s *Series) Add(r Reading, at time.Time) {
	if s.windows == nil {
		s.windows, s.handed = map[windowKey]*Window{}, map[windowKey]bool{}
	}
	s.Scrapes++
	s.Unattributed = r.Unattributed
	s.LatencyExported = s.LatencyExported || r.LatencyExported
	for minute, ents := range r.Windows {
		w := &Window{Start: minute, End: minute.Add(Minute), Gauge: true, Entities: map[string]Values{}}
		for name, v := range ents {
			w.Entities[name] = v
		}
		k := windowKey{start: minute, gauge: true}
		if old, ok := s.windows[k]; ok && s.handed[k] && !reflect.DeepEqual(old.Entities, w.Entities) {
			s.Revised++
		}
		s.windows[k] = w
	}
	at = at.UTC()
	if len(r.Totals) == 0 && !s.hasTot {
		return
	}
	if s.hasTot && at.After(s.totAt) {
		w := &Window{Start: s.totAt, End: at, Entities: map[string]Values{}}
		for name, cur := range r.Totals {
			d, reset := difference(s.totals[name], cur)
			w.Reset = w.Reset || reset
			w.Entities[name] = d
		}
		s.windows[windowKey{start: w.Start}] = w
	}
	s.totals, s.totAt, s.hasTot = r.Totals, at, true
}

// difference is cur-prev per family, cur where a value went backwards.
func difference(prev, cur Values) (Values, bool) {
	out := Values{Has: cur.Has}
	reset := false
	sub := func(p, c float64) float64 {
		if c < p {
			reset = true
			return c
		}
		return c - p
	}
	out.Requests = sub(prev.Requests, cur.Requests)
	out.Errors4xx = sub(prev.Errors4xx, cur.Errors4xx)
	out.Errors5xx = sub(prev.Errors5xx, cur.Errors5xx)
	var r bool
	out.Latency, r = histogramDelta(prev.Latency, cur.Latency)
	return out, reset || r
}

// Next returns the windows not handed out before, oldest first, and marks
// them handed out: each window is read once.
func (s *Series) Next() []Window {
	var out []Window
	for k, w := range s.windows {
		if !s.handed[k] {
			s.handed[k] = true
			out = append(out, *w)
		}
	}
	sortWindows(out)
	return out
}

// Windows returns every window, oldest first.
func (s *Series) Windows() []Window {
	out := make([]Window, 0, len(s.windows))
	for _, w := range s.windows {
		out = append(out, *w)
	}
	sortWindows(out)
	return out
}

// MaxGaps bounds what Gaps lists: a day of minutes.
const MaxGaps = 1440

// Gaps returns the minutes between the first and the last gauge minute seen
// that no scrape showed, at most MaxGaps of them.
func (s *Series) Gaps() []time.Time {
	var first, last time.Time
	for k := range s.windows {
		if !k.gauge {
			continue
		}
		start := k.start
		if first.IsZero() || start.Before(first) {
			first = start
		}
		if start.After(last) {
			last = start
		}
	}
	var gaps []time.Time
	if first.IsZero() {
		return nil
	}
	for t := first; t.Before(last) && len(gaps) < MaxGaps; t = t.Add(Minute) {
		if _, ok := s.windows[windowKey{start: t, gauge: true}]; !ok {
			gaps = append(gaps, t)
		}
	}
	return gaps
}

func sortWindows(ws []Window) {
	sort.Slice(ws, func(i, j int) bool { return ws[i].Start.Before(ws[j].Start) })
}

// Sum adds the windows' values per entity.
func Sum(ws []Window) map[string]Values {
	out := map[string]Values{}
	for _, w := range ws {
		for name, v := range w.Entities {
			t := out[name]
			t.Requests += v.Requests
			t.Errors4xx += v.Errors4xx
			t.Errors5xx += v.Errors5xx
			t.Latency = t.Latency.Add(v.Latency)
			t.Has |= v.Has
			out[name] = t
		}
	}
	return out
}
