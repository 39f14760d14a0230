package analysis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// fuzzSeeds become the committed corpus under testdata/fuzz/FuzzParseMetrics
// (go test -run TestFuzzCorpus -update rewrites it).
func fuzzSeeds() map[string][]byte {
	_, realistic := realisticScrapes()
	return map[string][]byte{
		"realistic": realistic,
		"counters": []byte(`# TYPE request_count_total counter
request_count_total{served_entity_name="v1"} 900
request_4xx_count_total{served_model_name="v1"} 9
request_5xx_count_total{entity="v2"} 3
request_count_total{served_entity="v2"} 100
`),
		"histogram_no_inf": []byte(`# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",le="10"} 50
request_latency_ms_bucket{served_entity_name="v1",le="100"} 95
request_latency_ms_count{served_entity_name="v1"} 120
request_latency_ms_sum{served_entity_name="v1"} 4000
`),
		"loose_histogram": []byte(`request_latency_ms_bucket{served_entity_name="v1",le="10"} 3
request_latency_ms_bucket{served_entity_name="v1",le="+Inf"} 4
request_latency_ms_count{served_entity_name="v1"} 4
`),
		"mixed_layouts": []byte(`# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",replica="0",le="10"} 5
request_latency_ms_bucket{served_entity_name="v1",replica="0",le="+Inf"} 10
request_latency_ms_bucket{served_entity_name="v1",replica="1",le="50"} 4
request_latency_ms_bucket{served_entity_name="v1",replica="1",le="+Inf"} 6
`),
		"malformed": []byte("request_count_total{served_entity_name=\"v1} 3\n"),
		"nan":       []byte("request_5xx_count_total{served_entity_name=\"v1\"} NaN\n"),
		"untyped":   []byte("request_count_total{served_entity_name=\"v1\"} 1e3 1700000000000\n"),
		"overflow":  []byte("request_count_total{served_entity_name=\"v1\",r=\"0\"} 1e308\nrequest_count_total{served_entity_name=\"v1\",r=\"1\"} 1e308\n"),
	}
}

func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParseMetrics")
	for name, seed := range fuzzSeeds() {
		path := filepath.Join(dir, name)
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("seed %s missing: run go test -run TestFuzzCorpus -update: %v", name, err)
		}
		if string(got) != want {
			t.Errorf("seed %s is stale: run go test -run TestFuzzCorpus -update", name)
		}
	}
}

// FuzzParseMetrics: any input either fails cleanly or yields a snapshot whose
// invariants hold all the way through Delta, Evaluate and the renderers.
func FuzzParseMetrics(f *testing.F) {
	f.Fuzz(func(t *testing.T, text []byte) {
		s, err := ParseMetrics(bytes.NewReader(text))
		if err != nil {
			return
		}
		again, err := ParseMetrics(bytes.NewReader(text))
		if err != nil || !reflect.DeepEqual(s, again) {
			t.Fatalf("parsing is not deterministic: %v", err)
		}
		for name, c := range s.Entities {
			checkCounters(t, name, c)
		}
		still := Delta(s, s)
		for name, e := range still.Entities {
			if e.Requests != 0 || e.Errors4xx != 0 || e.Errors5xx != 0 || e.Latency.Total != 0 || e.Reset || e.P95Known() {
				t.Fatalf("entity %q: a snapshot minus itself is not empty: %+v", name, e)
			}
		}
		w := Delta(Snapshot{}, s)
		for name, e := range w.Entities {
			if e.P95Known() {
				h := e.Latency
				if e.P95Ms < 0 && h.Bounds[0] >= 0 || e.P95Ms > h.Bounds[len(h.Bounds)-1] {
					t.Fatalf("entity %q: p95 %v outside the bucket range %v", name, e.P95Ms, h.Bounds)
				}
			}
			for _, baseline := range []string{"", name} {
				r := Evaluate(Measure(w, name, baseline), DefaultPolicy())
				if r.Phase == PhaseError {
					t.Fatalf("entity %q: parsed numbers were not judgeable: %s", name, r.Reason)
				}
				_ = r.Line()
				if _, err := json.Marshal(r); err != nil {
					t.Fatalf("entity %q: evidence does not encode: %v", name, err)
				}
			}
		}
	})
}

func checkCounters(t *testing.T, name string, c Counters) {
	t.Helper()
	for _, v := range []float64{c.Requests, c.Errors4xx, c.Errors5xx, c.Latency.Total} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			t.Fatalf("entity %q: bad count %v", name, v)
		}
	}
	h := c.Latency
	if len(h.Bounds) != len(h.Counts) {
		t.Fatalf("entity %q: %d bounds, %d counts", name, len(h.Bounds), len(h.Counts))
	}
	for i := range h.Bounds {
		if math.IsNaN(h.Bounds[i]) || math.IsInf(h.Bounds[i], 0) {
			t.Fatalf("entity %q: bad bound %v", name, h.Bounds[i])
		}
		if i > 0 && (h.Bounds[i] <= h.Bounds[i-1] || h.Counts[i] < h.Counts[i-1]) {
			t.Fatalf("entity %q: histogram not ascending: %+v", name, h)
		}
	}
	if n := len(h.Counts); n > 0 && h.Total < h.Counts[n-1] {
		t.Fatalf("entity %q: total %v below highest bucket %v", name, h.Total, h.Counts[n-1])
	}
}
