package diag

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sample() Diagnostics {
	return Diagnostics{
		{Severity: Error, Summary: "unknown field \"taks\"", Locations: []Location{{File: "resources/job.yml", Line: 5, Column: 7}}, Paths: []string{"resources.jobs.train.taks"}},
		{Severity: Warning, Summary: "include pattern matches no files", Detail: "Check the glob.\n", Locations: []Location{{File: "databricks.yml", Line: 4}}},
		{Severity: Recommendation, Summary: "set workspace.host"},
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, sample().WriteText(&b, TextOptions{}))
	assert.Equal(t, `Error: unknown field "taks"
  at resources.jobs.train.taks
  in resources/job.yml:5:7

Warning: include pattern matches no files
  in databricks.yml:4

Check the glob.

Recommendation: set workspace.host

`, b.String())
	assert.Equal(t, b.String(), sample().String())

	b.Reset()
	require.NoError(t, sample()[:1].WriteText(&b, TextOptions{Color: true}))
	assert.Contains(t, b.String(), "\x1b[", "color on request, even when not a terminal")
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, Diagnostics(nil).WriteJSON(&b))
	assert.Equal(t, "[]\n", b.String(), "no diagnostics is an empty list, not null")

	b.Reset()
	require.NoError(t, sample().WriteJSON(&b))
	var back Diagnostics
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	assert.Equal(t, sample(), back, "JSON round-trips")
	assert.Contains(t, b.String(), `"severity": "recommendation"`)
	assert.Error(t, json.Unmarshal([]byte(`[{"severity":"fatal"}]`), &back))
}

func TestCountsAndSummary(t *testing.T) {
	ds := sample()
	assert.True(t, ds.HasError())
	assert.Equal(t, 1, ds.Count(Warning))
	assert.Equal(t, "Found 1 error, 1 warning and 1 recommendation", ds.Summary())
	assert.Equal(t, "Validation OK!", Diagnostics(nil).Summary())
	assert.Equal(t, "Found 2 warnings", Diagnostics{{Severity: Warning}, {Severity: Warning}}.Summary())
	assert.False(t, ds[1:].HasError())

	strict := ds[1:].Strict()
	assert.True(t, strict.HasError(), "strict: warnings are errors")
	assert.Equal(t, Recommendation, strict[1].Severity, "recommendations stay")
	assert.Equal(t, Warning, ds[1].Severity, "Strict copies")
}

func TestErr(t *testing.T) {
	assert.NoError(t, sample()[1:].Err())
	err := sample().Err()
	require.Error(t, err)
	assert.Equal(t, `resources/job.yml:5:7: unknown field "taks"`, err.Error())
	var ve *ValidationError
	require.True(t, errors.As(err, &ve))
	assert.Len(t, ve.Diagnostics, 3)

	two := append(sample(), Diagnostic{Severity: Error, Summary: "second"})
	assert.Equal(t, `resources/job.yml:5:7: unknown field "taks" (and 1 more error)`, two.Err().Error())
	assert.Equal(t, "x", Errorf("%s", "x")[0].Summary)
}

func TestLocation(t *testing.T) {
	assert.Equal(t, "", Location{}.String())
	assert.Equal(t, "a.yml:3", Location{File: "a.yml", Line: 3}.String())
	assert.Equal(t, "a.yml:3:9", Location{File: "a.yml", Line: 3, Column: 9}.String())
	assert.Equal(t, "severity(9)", Severity(9).String())
}
