package analysis

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func hist(bounds []float64, counts []float64, total float64) Histogram {
	return Histogram{Bounds: bounds, Counts: counts, Total: total}
}

func TestDelta(t *testing.T) {
	bounds := []float64{10, 100}
	tests := []struct {
		name      string
		prev, cur Snapshot
		want      map[string]EntityWindow // P95Ms compared separately
		wantP95   map[string]float64      // NaN for unknown
	}{
		{
			name: "counters and histogram subtract",
			prev: snap("v1", Counters{Requests: 100, Errors4xx: 2, Errors5xx: 1, Latency: hist(bounds, []float64{50, 90}, 100)}),
			cur:  snap("v1", Counters{Requests: 300, Errors4xx: 5, Errors5xx: 11, Latency: hist(bounds, []float64{150, 280}, 300)}),
			want: map[string]EntityWindow{"v1": {Requests: 200, Errors4xx: 3, Errors5xx: 10,
				Latency: hist(bounds, []float64{100, 190}, 200)}},
			// rank 190 falls exactly at the top of the le=100 bucket
			wantP95: map[string]float64{"v1": 100},
		},
		{
			name: "counter reset takes the current value",
			prev: snap("v1", Counters{Requests: 1000, Errors5xx: 40}),
			cur:  snap("v1", Counters{Requests: 30, Errors5xx: 41}),
			want: map[string]EntityWindow{"v1": {Requests: 30, Errors5xx: 1, Reset: true}},
		},
		{
			name: "histogram reset takes the current histogram",
			prev: snap("v1", Counters{Requests: 100, Latency: hist(bounds, []float64{50, 90}, 100)}),
			cur:  snap("v1", Counters{Requests: 120, Latency: hist(bounds, []float64{10, 20}, 20)}),
			want: map[string]EntityWindow{"v1": {Requests: 20, Reset: true,
				Latency: hist(bounds, []float64{10, 20}, 20)}},
			wantP95: map[string]float64{"v1": 10 + 90*(19.0-10)/10},
		},
		{
			name: "a bucket going backwards is a reset even when the total grew",
			prev: snap("v1", Counters{Latency: hist(bounds, []float64{50, 90}, 100)}),
			cur:  snap("v1", Counters{Latency: hist(bounds, []float64{40, 150}, 160)}),
			want: map[string]EntityWindow{"v1": {Reset: true, Latency: hist(bounds, []float64{40, 150}, 160)}},
		},
		{
			name: "histogram layout change is a reset",
			prev: snap("v1", Counters{Latency: hist(bounds, []float64{50, 90}, 100)}),
			cur:  snap("v1", Counters{Latency: hist([]float64{10, 50, 100}, []float64{60, 80, 110}, 120)}),
			want: map[string]EntityWindow{"v1": {Reset: true, Latency: hist([]float64{10, 50, 100}, []float64{60, 80, 110}, 120)}},
		},
		{
			name: "new entity counts from zero",
			prev: snap("v1", Counters{Requests: 100}),
			cur: Snapshot{Entities: map[string]Counters{
				"v1": {Requests: 100},
				"v2": {Requests: 7, Errors5xx: 1, Latency: hist(bounds, []float64{7, 7}, 7)},
			}},
			want: map[string]EntityWindow{
				"v1": {},
				"v2": {Requests: 7, Errors5xx: 1, Latency: hist(bounds, []float64{7, 7}, 7)},
			},
			wantP95: map[string]float64{"v2": 0.95 * 7 / 7 * 10},
		},
		{
			name: "entity gone from the current scrape is left out",
			prev: Snapshot{Entities: map[string]Counters{"v1": {Requests: 1}, "v2": {Requests: 2}}},
			cur:  snap("v1", Counters{Requests: 1}),
			want: map[string]EntityWindow{"v1": {}},
		},
		{
			name: "empty previous snapshot",
			prev: Snapshot{},
			cur:  snap("v1", Counters{Requests: 5}),
			want: map[string]EntityWindow{"v1": {Requests: 5}},
		},
		{
			name: "no traffic in the interval",
			prev: snap("v1", Counters{Requests: 5, Latency: hist(bounds, []float64{5, 5}, 5)}),
			cur:  snap("v1", Counters{Requests: 5, Latency: hist(bounds, []float64{5, 5}, 5)}),
			want: map[string]EntityWindow{"v1": {Latency: hist(bounds, []float64{0, 0}, 0)}},
		},
		{
			name: "non-atomic scrape: bucket deltas are kept cumulative",
			prev: snap("v1", Counters{Latency: hist(bounds, []float64{10, 12}, 12)}),
			cur:  snap("v1", Counters{Latency: hist(bounds, []float64{20, 21}, 22)}),
			// raw deltas 10, 9 -> 10, 10; total 10
			want:    map[string]EntityWindow{"v1": {Latency: hist(bounds, []float64{10, 10}, 10)}},
			wantP95: map[string]float64{"v1": 9.5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := Delta(tt.prev, tt.cur)
			require.Len(t, w.Entities, len(tt.want))
			for name, want := range tt.want {
				got, ok := w.Entities[name]
				require.True(t, ok, "entity %s", name)
				p95, known := tt.wantP95[name]
				if known {
					assert.True(t, got.P95Known())
					assert.InDelta(t, p95, got.P95Ms, 1e-9, "p95 of %s", name)
				} else if got.Latency.Total == 0 {
					assert.False(t, got.P95Known(), "p95 of %s must be unknown without observations", name)
				}
				got.P95Ms, want.P95Ms = 0, 0
				if len(want.Latency.Bounds) == 0 && len(got.Latency.Bounds) == 0 {
					got.Latency, want.Latency = Histogram{}, Histogram{}
				}
				assert.Equal(t, want, got, "entity %s", name)
			}
		})
	}
}

func snap(name string, c Counters) Snapshot {
	return Snapshot{Entities: map[string]Counters{name: c}}
}

func TestQuantile(t *testing.T) {
	b := []float64{10, 50, 100, 500}
	tests := []struct {
		name string
		h    Histogram
		q    float64
		want float64 // NaN for unknown
	}{
		{"linear inside the bucket", hist(b, []float64{0, 50, 100, 100}, 100), 0.95, 50 + 50*(95.0-50)/50},
		{"first bucket starts at zero", hist(b, []float64{100, 100, 100, 100}, 100), 0.95, 9.5},
		{"rank exactly at a bucket's top", hist(b, []float64{0, 95, 100, 100}, 100), 0.95, 50},
		{"rank in the +Inf bucket reports the highest bound", hist(b, []float64{10, 20, 30, 40}, 100), 0.95, 500},
		{"all observations above the highest bound", hist(b, []float64{0, 0, 0, 0}, 10), 0.95, 500},
		{"median", hist(b, []float64{20, 60, 100, 100}, 100), 0.5, 10 + 40*(50.0-20)/40},
		{"q 0", hist(b, []float64{20, 60, 100, 100}, 100), 0, 0},
		{"q 1", hist(b, []float64{20, 60, 100, 100}, 100), 1, 100},
		{"single observation", hist(b, []float64{0, 0, 1, 1}, 1), 0.95, 50 + 50*0.95},
		{"non-positive first bound", hist([]float64{0, 10}, []float64{5, 10}, 10), 0.2, 0},
		{"no observations", hist(b, []float64{0, 0, 0, 0}, 0), 0.95, math.NaN()},
		{"only a +Inf bucket", hist(nil, nil, 10), 0.95, math.NaN()},
		{"empty histogram", Histogram{}, 0.95, math.NaN()},
		{"q out of range", hist(b, []float64{20, 60, 100, 100}, 100), 1.5, math.NaN()},
		{"q NaN", hist(b, []float64{20, 60, 100, 100}, 100), math.NaN(), math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.h.Quantile(tt.q)
			if math.IsNaN(tt.want) {
				assert.True(t, math.IsNaN(got), "want NaN, got %v", got)
				return
			}
			assert.InDelta(t, tt.want, got, 1e-9)
		})
	}
}
