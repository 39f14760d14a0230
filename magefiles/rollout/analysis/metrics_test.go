package analysis

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMetricsCounters(t *testing.T) {
	tests := []struct {
		name         string
		text         string
		want         map[string]Counters
		unattributed int
	}{
		{
			name: "typed counters per entity",
			text: `# TYPE request_count_total counter
request_count_total{served_entity_name="v1"} 900
request_count_total{served_entity_name="v2"} 100
# TYPE request_4xx_count_total counter
request_4xx_count_total{served_entity_name="v1"} 9
# TYPE request_5xx_count_total counter
request_5xx_count_total{served_entity_name="v2"} 3
`,
			want: map[string]Counters{
				"v1": {Requests: 900, Errors4xx: 9},
				"v2": {Requests: 100, Errors5xx: 3},
			},
		},
		{
			name: "label served_model_name",
			text: `request_count_total{served_model_name="m-1"} 5` + "\n",
			want: map[string]Counters{"m-1": {Requests: 5}},
		},
		{
			name: "label entity",
			text: `request_count_total{entity="m-1"} 6` + "\n",
			want: map[string]Counters{"m-1": {Requests: 6}},
		},
		{
			name: "label served_entity",
			text: `request_count_total{served_entity="m-1"} 7` + "\n",
			want: map[string]Counters{"m-1": {Requests: 7}},
		},
		{
			name: "served_entity_name wins over the other labels",
			text: `request_count_total{served_entity="c",entity="b",served_model_name="a",served_entity_name="winner"} 1` + "\n",
			want: map[string]Counters{"winner": {Requests: 1}},
		},
		{
			name: "an empty entity label falls through to the next",
			text: `request_count_total{served_entity_name="",served_model_name="m"} 2` + "\n",
			want: map[string]Counters{"m": {Requests: 2}},
		},
		{
			name: "series differing in other labels are summed",
			text: `# TYPE request_count_total counter
request_count_total{served_entity_name="v1",replica="0",method="POST"} 10
request_count_total{served_entity_name="v1",replica="1",method="POST"} 20
request_count_total{served_entity_name="v1",replica="1",method="GET"} 5
# TYPE request_5xx_count_total counter
request_5xx_count_total{served_entity_name="v1",code="500"} 2
request_5xx_count_total{served_entity_name="v1",code="503"} 1
`,
			want: map[string]Counters{"v1": {Requests: 35, Errors5xx: 3}},
		},
		{
			name: "mixed entity labels across series still sum per entity",
			text: `request_count_total{served_entity_name="v1",replica="0"} 10
request_count_total{served_model_name="v1",replica="1"} 15
`,
			want: map[string]Counters{"v1": {Requests: 25}},
		},
		{
			name: "untyped and gauge counters are read",
			text: `# TYPE request_count_total gauge
request_count_total{served_entity_name="v1"} 40
request_5xx_count_total{served_entity_name="v1"} 4
`,
			want: map[string]Counters{"v1": {Requests: 40, Errors5xx: 4}},
		},
		{
			name: "names without the _total suffix",
			text: `# TYPE request_count counter
request_count{served_entity_name="v1"} 12
# TYPE request_4xx_count counter
request_4xx_count{served_entity_name="v1"} 1
# TYPE request_5xx_count counter
request_5xx_count{served_entity_name="v1"} 2
`,
			want: map[string]Counters{"v1": {Requests: 12, Errors4xx: 1, Errors5xx: 2}},
		},
		{
			name: "unknown families are ignored",
			text: `# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
# TYPE something_else summary
something_else{quantile="0.5"} 1
something_else_sum 1
something_else_count 1
request_count_total{served_entity_name="v1"} 3
cpu_usage_percentage{served_entity_name="v1"} -4
`,
			want: map[string]Counters{"v1": {Requests: 3}},
		},
		{
			name: "missing families read as zero",
			text: `request_5xx_count_total{served_entity_name="v1"} 3` + "\n",
			want: map[string]Counters{"v1": {Errors5xx: 3}},
		},
		{
			name: "empty export",
			text: "",
			want: map[string]Counters{},
		},
		{
			name: "series without an entity label are counted, not attributed",
			text: `request_count_total{endpoint="e"} 100
request_count_total{served_entity_name="v1"} 3
`,
			want:         map[string]Counters{"v1": {Requests: 3}},
			unattributed: 1,
		},
		{
			name: "comments, timestamps and help lines",
			text: `# HELP request_count_total Requests served.
# TYPE request_count_total counter
# a free comment
request_count_total{served_entity_name="v1"} 1e3 1700000000000
`,
			want: map[string]Counters{"v1": {Requests: 1000}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseMetrics(strings.NewReader(tt.text))
			require.NoError(t, err)
			assert.Equal(t, tt.unattributed, s.Unattributed)
			got := map[string]Counters{}
			for name, c := range s.Entities {
				c.Latency = Histogram{} // latency has its own test
				got[name] = c
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseMetricsHistogram(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Histogram
	}{
		{
			name: "typed histogram with +Inf",
			text: `# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",le="10"} 50
request_latency_ms_bucket{served_entity_name="v1",le="100"} 95
request_latency_ms_bucket{served_entity_name="v1",le="+Inf"} 100
request_latency_ms_sum{served_entity_name="v1"} 2500
request_latency_ms_count{served_entity_name="v1"} 100
`,
			want: Histogram{Bounds: []float64{10, 100}, Counts: []float64{50, 95}, Total: 100, Sum: 2500},
		},
		{
			name: "buckets out of order are sorted",
			text: `# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",le="+Inf"} 100
request_latency_ms_bucket{served_entity_name="v1",le="100"} 95
request_latency_ms_bucket{served_entity_name="v1",le="10"} 50
`,
			want: Histogram{Bounds: []float64{10, 100}, Counts: []float64{50, 95}, Total: 100},
		},
		{
			name: "no +Inf bucket: _count is the total",
			text: `# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",le="10"} 50
request_latency_ms_bucket{served_entity_name="v1",le="100"} 95
request_latency_ms_count{served_entity_name="v1"} 120
`,
			want: Histogram{Bounds: []float64{10, 100}, Counts: []float64{50, 95}, Total: 120},
		},
		{
			name: "no +Inf bucket and no _count: the highest bucket is the total",
			text: `# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",le="10"} 50
request_latency_ms_bucket{served_entity_name="v1",le="100"} 95
`,
			want: Histogram{Bounds: []float64{10, 100}, Counts: []float64{50, 95}, Total: 95},
		},
		{
			name: "+Inf wins over a disagreeing _count",
			text: `# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",le="10"} 5
request_latency_ms_bucket{served_entity_name="v1",le="+Inf"} 9
request_latency_ms_count{served_entity_name="v1"} 11
`,
			want: Histogram{Bounds: []float64{10}, Counts: []float64{5}, Total: 9},
		},
		{
			name: "series with the same layout are added",
			text: `# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",replica="0",le="10"} 5
request_latency_ms_bucket{served_entity_name="v1",replica="0",le="+Inf"} 10
request_latency_ms_sum{served_entity_name="v1",replica="0"} 100
request_latency_ms_bucket{served_entity_name="v1",replica="1",le="10"} 7
request_latency_ms_bucket{served_entity_name="v1",replica="1",le="+Inf"} 8
request_latency_ms_sum{served_entity_name="v1",replica="1"} 50
`,
			want: Histogram{Bounds: []float64{10}, Counts: []float64{12}, Total: 18, Sum: 150},
		},
		{
			name: "series with different layouts merge on the union of bounds",
			text: `# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",replica="0",le="10"} 5
request_latency_ms_bucket{served_entity_name="v1",replica="0",le="100"} 8
request_latency_ms_bucket{served_entity_name="v1",replica="0",le="+Inf"} 10
request_latency_ms_bucket{served_entity_name="v1",replica="1",le="50"} 4
request_latency_ms_bucket{served_entity_name="v1",replica="1",le="+Inf"} 6
`,
			// at 10: 5+0; at 50: 5+4; at 100: 8+4
			want: Histogram{Bounds: []float64{10, 50, 100}, Counts: []float64{5, 9, 12}, Total: 16},
		},
		{
			name: "loose samples without a TYPE line are reassembled",
			text: `request_latency_ms_bucket{served_model_name="v1",le="10"} 3
request_latency_ms_bucket{served_model_name="v1",le="+Inf"} 4
request_latency_ms_count{served_model_name="v1"} 4
request_latency_ms_sum{served_model_name="v1"} 33
`,
			want: Histogram{Bounds: []float64{10}, Counts: []float64{3}, Total: 4, Sum: 33},
		},
		{
			name: "float counts",
			text: `# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",le="10"} 2.5
request_latency_ms_bucket{served_entity_name="v1",le="+Inf"} 4.5
`,
			want: Histogram{Bounds: []float64{10}, Counts: []float64{2.5}, Total: 4.5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseMetrics(strings.NewReader(tt.text))
			require.NoError(t, err)
			require.Contains(t, s.Entities, "v1")
			assert.Equal(t, tt.want, s.Entities["v1"].Latency)
		})
	}
}

func TestParseMetricsRejectsMalformed(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"not prometheus text", "{\"requests\": 3}\n", "parse metrics export"},
		{"value is not a number", `request_count_total{served_entity_name="v1"} lots` + "\n", "expected float"},
		{"unterminated label", `request_count_total{served_entity_name="v1} 3` + "\n", "parse metrics export"},
		{"negative counter", `request_count_total{served_entity_name="v1"} -1` + "\n", "negative count"},
		{"NaN counter", `request_5xx_count_total{served_entity_name="v1"} NaN` + "\n", "not a finite count"},
		{"infinite counter", `request_count_total{served_entity_name="v1"} +Inf` + "\n", "not a finite count"},
		{"duplicate series", `request_count_total{served_entity_name="v1",a="1"} 1
request_count_total{a="1",served_entity_name="v1"} 2
`, "duplicate series"},
		{"counter family typed as summary", `# TYPE request_count_total summary
request_count_total{served_entity_name="v1",quantile="0.5"} 1
`, "want counter"},
		{"latency typed as gauge", `# TYPE request_latency_ms gauge
request_latency_ms{served_entity_name="v1"} 12
`, "want histogram"},
		{"two buckets with one bound", `# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",le="10"} 1
request_latency_ms_bucket{served_entity_name="v1",le="10"} 2
`, "two buckets with le=10"},
		{"buckets decreasing", `# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",le="10"} 5
request_latency_ms_bucket{served_entity_name="v1",le="100"} 4
`, "fewer than"},
		{"+Inf below a finite bucket", `# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",le="10"} 5
request_latency_ms_bucket{served_entity_name="v1",le="+Inf"} 4
`, "fewer than"},
		{"_count below the highest bucket", `# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",le="10"} 5
request_latency_ms_count{served_entity_name="v1"} 4
`, "below the highest bucket"},
		{"infinite _sum", `# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",le="+Inf"} 1
request_latency_ms_sum{served_entity_name="v1"} +Inf
`, "_sum"},
		{"counters overflow when summed", `request_count_total{served_entity_name="v1",replica="0"} 1e308
request_count_total{served_entity_name="v1",replica="1"} 1e308
`, "add up to +Inf"},
		{"histogram sums overflow when merged", `# TYPE request_latency_ms histogram
request_latency_ms_bucket{served_entity_name="v1",replica="0",le="+Inf"} 1
request_latency_ms_sum{served_entity_name="v1",replica="0"} 1e308
request_latency_ms_bucket{served_entity_name="v1",replica="1",le="+Inf"} 1
request_latency_ms_sum{served_entity_name="v1",replica="1"} 1e308
`, "add up to +Inf"},
		{"loose bucket without le", `request_latency_ms_bucket{served_entity_name="v1"} 5` + "\n", "without an le label"},
		{"loose bucket with a bad le", `request_latency_ms_bucket{served_entity_name="v1",le="fast"} 5` + "\n", `le="fast"`},
		{"loose bucket with a NaN le", `request_latency_ms_bucket{served_entity_name="v1",le="NaN"} 5` + "\n", "NaN"},
		{"loose negative bucket", `request_latency_ms_bucket{served_entity_name="v1",le="10"} -5` + "\n", "negative count"},
		{"loose duplicate _count", `request_latency_ms_count{served_entity_name="v1"} 5
request_latency_ms_count{served_entity_name="v1"} 6
`, "duplicate series"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMetrics(strings.NewReader(tt.text))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "parse metrics export")
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestParseMetricsReaderError(t *testing.T) {
	_, err := ParseMetrics(failingReader{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection reset")
}
