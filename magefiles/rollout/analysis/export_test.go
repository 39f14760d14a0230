package analysis

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeEndpoint produces a serving endpoint's metrics export from simulated
// traffic, deterministically: several replicas per entity, HELP/TYPE lines,
// families the analysis must ignore.
type fakeEndpoint struct {
	bounds   []float64
	replicas int
	entities map[string]*fakeEntity
	seq      int
}

type fakeReplica struct {
	requests, e4xx, e5xx float64
	buckets              []float64 // non-cumulative, last is +Inf
	sum                  float64
}

type fakeEntity struct{ replicas []*fakeReplica }

func newFakeEndpoint(replicas int) *fakeEndpoint {
	return &fakeEndpoint{
		bounds:   []float64{5, 10, 25, 50, 75, 100, 150, 250, 500, 1000, 2500, 5000},
		replicas: replicas,
		entities: map[string]*fakeEntity{},
	}
}

// serve sends n requests to entity; errRate of them answer 5xx, 1% answer
// 4xx, and latencies spread evenly over [0.2, 1.8] x medianMs.
func (f *fakeEndpoint) serve(entity string, n int, errRate, medianMs float64) {
	e := f.entities[entity]
	if e == nil {
		e = &fakeEntity{}
		for range f.replicas {
			e.replicas = append(e.replicas, &fakeReplica{buckets: make([]float64, len(f.bounds)+1)})
		}
		f.entities[entity] = e
	}
	for range n {
		f.seq++
		r := e.replicas[f.seq%len(e.replicas)]
		r.requests++
		u := frac(float64(f.seq) * 0.6180339887498949) // evenly spread in [0, 1)
		v := frac(float64(f.seq) * 0.7548776662466927)
		switch {
		case v < errRate:
			r.e5xx++
		case v > 0.99:
			r.e4xx++
		}
		ms := medianMs * (0.2 + 1.6*u)
		r.sum += ms
		i := sort.SearchFloat64s(f.bounds, ms)
		r.buckets[i]++
	}
}

func frac(x float64) float64 { return x - math.Floor(x) }

func (f *fakeEndpoint) export() []byte {
	var b bytes.Buffer
	names := make([]string, 0, len(f.entities))
	for n := range f.entities {
		names = append(names, n)
	}
	sort.Strings(names)
	counter := func(family, help string, value func(*fakeReplica) float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n", family, help, family)
		for _, n := range names {
			for i, r := range f.entities[n].replicas {
				fmt.Fprintf(&b, "%s{endpoint=\"interrupt-agent\",served_entity_name=%q,replica=\"%d\"} %g\n", family, n, i, value(r))
			}
		}
	}
	counter(FamilyRequests, "Requests served.", func(r *fakeReplica) float64 { return r.requests })
	counter(Family4xx, "Requests answered 4xx.", func(r *fakeReplica) float64 { return r.e4xx })
	counter(Family5xx, "Requests answered 5xx.", func(r *fakeReplica) float64 { return r.e5xx })
	fmt.Fprintf(&b, "# HELP %s Request latency in milliseconds.\n# TYPE %s histogram\n", FamilyLatency, FamilyLatency)
	for _, n := range names {
		for i, r := range f.entities[n].replicas {
			labels := fmt.Sprintf("endpoint=\"interrupt-agent\",served_entity_name=%q,replica=\"%d\"", n, i)
			cum := 0.0
			for j, c := range r.buckets {
				cum += c
				le := "+Inf"
				if j < len(f.bounds) {
					le = fmt.Sprintf("%g", f.bounds[j])
				}
				fmt.Fprintf(&b, "%s_bucket{%s,le=%q} %g\n", FamilyLatency, labels, le, cum)
			}
			fmt.Fprintf(&b, "%s_sum{%s} %g\n%s_count{%s} %g\n", FamilyLatency, labels, r.sum, FamilyLatency, labels, cum)
		}
	}
	// Families of a real export that the analysis ignores.
	fmt.Fprintf(&b, "# TYPE cpu_usage_percentage gauge\n")
	for _, n := range names {
		fmt.Fprintf(&b, "cpu_usage_percentage{served_entity_name=%q} 41.5\n", n)
	}
	fmt.Fprintf(&b, "# TYPE provisioned_concurrent_requests_total gauge\nprovisioned_concurrent_requests_total 8\n")
	return b.Bytes()
}

func parse(t testing.TB, text []byte) Snapshot {
	t.Helper()
	s, err := ParseMetrics(bytes.NewReader(text))
	require.NoError(t, err)
	return s
}

// The whole pure pipeline on simulated canaries: 90/10 traffic, scraped
// before and after each interval.
func TestAnalyzeSimulatedCanary(t *testing.T) {
	tests := []struct {
		name          string
		candErr       float64
		candMedian    float64
		perInterval   int
		want          Phase
		reasonContain string
	}{
		{"good candidate", 0.002, 60, 2000, PhaseSuccessful, "error rate"},
		{"20% 5xx candidate", 0.20, 60, 2000, PhaseFailed, "candidate error rate"},
		{"3x slower candidate", 0.002, 180, 2000, PhaseFailed, "candidate p95"},
		{"low traffic", 0.002, 60, 200, PhaseInconclusive, "fewer than min_requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEndpoint(2)
			f.serve("v1", 50000, 0.002, 60) // history before the canary
			prev := parse(t, f.export())
			f.serve("v1", tt.perInterval*9/10, 0.002, 60)
			f.serve("v2", tt.perInterval/10, tt.candErr, tt.candMedian)
			cur := parse(t, f.export())

			r := Analyze(prev, cur, "v2", "v1", DefaultPolicy())
			assert.Equal(t, tt.want, r.Phase, r.Line())
			assert.Contains(t, r.Reason, tt.reasonContain)
			assert.Equal(t, float64(tt.perInterval/10), r.Measurement.Candidate.Requests)
			assert.Equal(t, float64(tt.perInterval*9/10), r.Measurement.Baseline.Requests)
			assert.InDelta(t, tt.candErr, r.Measurement.Candidate.ErrorRate, 0.03)
		})
	}
}

// realisticScrapes returns two scrapes an interval apart of an endpoint
// serving a baseline and a candidate at 90/10 with four replicas each.
func realisticScrapes() (prev, cur []byte) {
	f := newFakeEndpoint(4)
	f.serve("interrupt-agent-1", 200000, 0.002, 60)
	f.serve("interrupt-agent-2", 1000, 0.2, 60)
	prev = f.export()
	f.serve("interrupt-agent-1", 9000, 0.002, 60)
	f.serve("interrupt-agent-2", 1000, 0.2, 60)
	return prev, f.export()
}

func BenchmarkParseMetrics(b *testing.B) {
	_, cur := realisticScrapes()
	b.SetBytes(int64(len(cur)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMetrics(bytes.NewReader(cur)); err != nil {
			b.Fatal(err)
		}
	}
}

// One interval as the rollout loop does it: parse the new scrape (the
// previous one is parsed already in the loop, but count both to be safe),
// delta, measure, evaluate.
func BenchmarkIntervalParseDeltaEvaluate(b *testing.B) {
	prevText, curText := realisticScrapes()
	b.SetBytes(int64(len(prevText) + len(curText)))
	b.ReportAllocs()
	policy := DefaultPolicy()
	for b.Loop() {
		prev, err := ParseMetrics(bytes.NewReader(prevText))
		if err != nil {
			b.Fatal(err)
		}
		cur, err := ParseMetrics(bytes.NewReader(curText))
		if err != nil {
			b.Fatal(err)
		}
		r := Analyze(prev, cur, "interrupt-agent-2", "interrupt-agent-1", policy)
		if r.Phase != PhaseFailed {
			b.Fatalf("want Failed, got %s", r.Line())
		}
	}
}

func BenchmarkDeltaEvaluate(b *testing.B) {
	prevText, curText := realisticScrapes()
	prev, cur := parse(b, prevText), parse(b, curText)
	policy := DefaultPolicy()
	b.ReportAllocs()
	for b.Loop() {
		_ = Analyze(prev, cur, "interrupt-agent-2", "interrupt-agent-1", policy)
	}
}
