package analysis

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func renderCases() []struct {
	name string
	r    Result
} {
	p := DefaultPolicy()
	base := sd("v1", 3600, 14, 7, 61.2)
	reset := sd("v2", 412, 2, 1, 70)
	reset.Reset = true
	return []struct {
		name string
		r    Result
	}{
		{"successful", Evaluate(Measurement{sd("v2", 412, 2, 1, 70), base}, p)},
		{"failed on errors and latency", Evaluate(Measurement{sd("v2", 412, 2, 83, 182), base}, p)},
		{"inconclusive on low traffic", Evaluate(Measurement{sd("v2", 12, 0, 0, 40), base}, p)},
		{"first release without baseline", Evaluate(Measurement{sd("v2", 412, 0, 0, 70), unknownSide("")}, p)},
		{"counter reset", Evaluate(Measurement{reset, base}, p)},
		{"error", ErrorResult(errors.New(`parse metrics export: text format parsing error in line 3: expected float as value, got "lots"`))},
	}
}

func TestRenderGolden(t *testing.T) {
	var buf bytes.Buffer
	for _, c := range renderCases() {
		buf.WriteString("## " + c.name + "\n")
		buf.WriteString(c.r.Line() + "\n")
		b, err := json.MarshalIndent(c.r.Evidence(), "", "  ")
		require.NoError(t, err)
		buf.Write(b)
		buf.WriteString("\n\n")
	}
	d := Decide([]Result{renderCases()[0].r, renderCases()[1].r, renderCases()[1].r}, DefaultLimits())
	buf.WriteString("## decision\n" + d.String() + "\n")
	b, err := json.MarshalIndent(d, "", "  ")
	require.NoError(t, err)
	buf.Write(b)
	buf.WriteString("\n")

	golden := filepath.Join("testdata", "render.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -update to create it")
	assert.Equal(t, string(want), buf.String())
}

func TestResultMarshalsWithoutNaN(t *testing.T) {
	for _, c := range renderCases() {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.r)
			require.NoError(t, err)
			var e Evidence
			require.NoError(t, json.Unmarshal(b, &e))
			assert.Equal(t, c.r.Phase, e.Phase)
			assert.Equal(t, c.r.Reason, e.Reason)
		})
	}
	// A slice of results, as a release record would hold them.
	rs := []Result{renderCases()[2].r, renderCases()[5].r}
	_, err := json.Marshal(rs)
	require.NoError(t, err)
}

func TestEvidenceNullsUnknowns(t *testing.T) {
	r := Evaluate(Measurement{sd("v2", 0, 0, 0, nan), sd("v1", 10, 0, 0, nan)}, DefaultPolicy())
	e := r.Evidence()
	require.NotNil(t, e.Candidate)
	assert.Nil(t, e.Candidate.ErrorRate)
	assert.Nil(t, e.Candidate.P95Ms)
	assert.Nil(t, e.P95LimitMs)
	require.NotNil(t, e.ErrorRateLimit)
	assert.Equal(t, 0.05, *e.ErrorRateLimit)
	assert.Nil(t, ErrorResult(errors.New("x")).Evidence().Candidate)
}

func TestCountFormat(t *testing.T) {
	assert.Equal(t, "412", count(412))
	assert.Equal(t, "2.5", count(2.5))
	assert.Equal(t, "0", count(0))
	assert.Equal(t, "n/a", pct(nan))
	assert.Equal(t, "n/a", ms(nan))
}
