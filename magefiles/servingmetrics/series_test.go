package servingmetrics

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gaugeExport renders one minute of the real export for the given
// entity -> requests, 4xx.
func gaugeExport(minute time.Time, ents map[string][2]int) string {
	ts := strconv.FormatInt(minute.UnixMilli(), 10)
	var b strings.Builder
	b.WriteString("# TYPE request_count_total gauge\n")
	for name, v := range ents {
		b.WriteString("request_count_total{served_entity_name=\"" + name + "\"} " + strconv.Itoa(v[0]) + " " + ts + "\n")
	}
	b.WriteString("# TYPE request_4xx_count_total gauge\n")
	for name, v := range ents {
		b.WriteString("request_4xx_count_total{served_entity_name=\"" + name + "\"} " + strconv.Itoa(v[1]) + " " + ts + "\n")
	}
	return b.String()
}

func TestSeriesGaugeMinutes(t *testing.T) {
	m0 := minute13
	var s Series
	add := func(minute time.Time, at time.Duration, ents map[string][2]int) {
		s.Add(parseText(t, gaugeExport(minute, ents), minute.Add(at)), minute.Add(at))
	}

	add(m0, 70*time.Second, map[string][2]int{"stable": {900, 9}, "cand": {100, 1}})
	first := s.Next()
	require.Len(t, first, 1)
	assert.Equal(t, m0, first[0].Start)
	assert.Equal(t, m0.Add(time.Minute), first[0].End)
	assert.True(t, first[0].Gauge)

	// A repeated scrape of the same minute is not counted again.
	add(m0, 80*time.Second, map[string][2]int{"stable": {900, 9}, "cand": {100, 1}})
	assert.Empty(t, s.Next(), "a minute is handed out once")
	assert.Equal(t, 0, s.Revised)

	// The same minute with other values replaces it and is counted as revised.
	add(m0, 85*time.Second, map[string][2]int{"stable": {901, 9}, "cand": {100, 1}})
	assert.Empty(t, s.Next())
	assert.Equal(t, 1, s.Revised)
	assert.Equal(t, 901.0, s.Windows()[0].Entity("stable").Requests)

	// Minute 2 is never scraped: a gap, not zero traffic.
	add(m0.Add(2*time.Minute), 70*time.Second, map[string][2]int{"stable": {950, 10}})
	next := s.Next()
	require.Len(t, next, 1)
	assert.Equal(t, []time.Time{m0.Add(time.Minute)}, s.Gaps())

	// An entity absent from the export is absent from the window.
	assert.False(t, next[0].Has("cand"))
	assert.Equal(t, Values{}, next[0].Entity("cand"))
	assert.True(t, next[0].Has("stable"))

	sum := Sum(s.Windows())
	assert.Equal(t, 1851.0, sum["stable"].Requests)
	assert.Equal(t, 100.0, sum["cand"].Requests)
}

func TestSeriesCounterDifferences(t *testing.T) {
	counters := func(req, e4 int) string {
		return "# TYPE request_count_total counter\nrequest_count_total{served_entity_name=\"a\"} " + strconv.Itoa(req) +
			"\n# TYPE request_4xx_count_total counter\nrequest_4xx_count_total{served_entity_name=\"a\"} " + strconv.Itoa(e4) + "\n"
	}
	t0 := minute13
	var s Series
	s.Add(parseText(t, counters(100, 1), t0), t0)
	assert.Empty(t, s.Next(), "the first scrape of counters only sets the start")

	s.Add(parseText(t, counters(160, 3), t0.Add(time.Minute)), t0.Add(time.Minute))
	w := s.Next()
	require.Len(t, w, 1)
	assert.False(t, w[0].Gauge)
	assert.Equal(t, t0, w[0].Start)
	assert.Equal(t, Values{Requests: 60, Errors4xx: 2, Has: Requests | Errors4xx}, w[0].Entity("a"))
	assert.False(t, w[0].Reset)

	// A counter that went backwards was reset: its value is the increase.
	s.Add(parseText(t, counters(20, 0), t0.Add(2*time.Minute)), t0.Add(2*time.Minute))
	w = s.Next()
	require.Len(t, w, 1)
	assert.True(t, w[0].Reset)
	assert.Equal(t, 20.0, w[0].Entity("a").Requests)

	// A scrape at the same instant adds nothing.
	s.Add(parseText(t, counters(25, 0), t0.Add(2*time.Minute)), t0.Add(2*time.Minute))
	assert.Empty(t, s.Next())
	assert.Empty(t, s.Gaps(), "counter intervals have no gaps")
}

func TestSeriesLatencyFromCumulativeHistograms(t *testing.T) {
	text := fixture(t, "counters.prom")
	var s Series
	s.Add(parseText(t, text, minute13), minute13)
	later := strings.ReplaceAll(text, `agent-2",le="+Inf"} 400`, `agent-2",le="+Inf"} 500`)
	later = strings.ReplaceAll(later, `request_count_total{served_entity_name="agent-2"} 400`, `request_count_total{served_entity_name="agent-2"} 500`)
	s.Add(parseText(t, later, minute13.Add(time.Minute)), minute13.Add(time.Minute))
	w := s.Next()
	require.Len(t, w, 1)
	c := w[0].Entity("agent-2")
	assert.Equal(t, 100.0, c.Requests)
	assert.Equal(t, 100.0, c.Latency.Total)
	assert.Equal(t, 100.0, c.Latency.Above(50), "the new observations all landed above 50 ms")
	assert.True(t, s.LatencyExported)
}
