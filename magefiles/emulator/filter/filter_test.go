package filter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	fields := map[string]string{"name": "agent", "run_id": "abc", "tags.release": "v1.2.0", "metrics.accuracy": "0.95", "tags.my-key": "x"}
	get := func(k string) (string, bool) { v, ok := fields[k]; return v, ok }
	tests := []struct {
		filter  string
		want    bool
		wantErr bool
	}{
		{"", true, false},
		{"name='agent'", true, false},
		{`name = "agent"`, true, false},
		{"name='other'", false, false},
		{"name != 'other'", true, false},
		{"name='agent' and run_id='abc'", true, false},
		{"name='agent' AND run_id='xyz'", false, false},
		{"run_id IN ('x', 'abc')", true, false},
		{"run_id IN ('x')", false, false},
		{"name LIKE 'ag%'", true, false},
		{"name LIKE 'AG%'", false, false},
		{"name ILIKE 'AG%'", true, false},
		{"metrics.accuracy >= 0.9", true, false},
		{"metrics.accuracy < 0.9", false, false},
		{`tags."my-key" = 'x'`, true, false},
		{"tags.missing = 'x'", false, false},
		{"tags.missing != 'x'", true, false},
		{"name = 'unterminated", false, true},
		{"name 'agent'", false, true},
		{"name = 'a' OR run_id = 'b'", false, true},
		{"name =", false, true},
		{"run_id IN 'x'", false, true},
		{"run_id IN ('x' 'y')", false, true},
		{"'agent' = name", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := Parse(tt.filter)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, f.Match(get))
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{"name='a'", "run_id IN ('a','b') AND tags.x = \"y\"", "metrics.m >= 1", "name LIKE '%'", "(", "a = 'b"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := Parse(s)
		if err == nil {
			flt.Match(func(string) (string, bool) { return "", false })
		}
	})
}
