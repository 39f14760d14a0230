package servingmetrics

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse: any input either fails cleanly or yields finite, non-negative
// numbers that a Series folds without panicking.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"gauges_latency.prom", "gauges_no_latency.prom", "counters.prom"} {
		raw, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("request_count_total{served_entity_name=\"v1\"} 1e3 1700000000000\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		r, err := Parse(bytes.NewReader(text), minute13)
		if err != nil {
			return
		}
		check := func(v Values) {
			for _, x := range []float64{v.Requests, v.Errors4xx, v.Errors5xx, v.Latency.Total} {
				if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
					t.Fatalf("bad value %v in %+v", x, v)
				}
			}
		}
		for _, v := range r.Totals {
			check(v)
		}
		for _, w := range r.Windows {
			for _, v := range w {
				check(v)
			}
		}
		var s Series
		s.Add(r, minute13)
		s.Add(r, minute13.Add(time.Minute))
		_ = s.Next()
		_ = s.Gaps()
	})
}
