package dyn

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type inner struct {
	Name  string `json:"name"`
	Count int    `json:"count,omitempty"`
	On    bool   `json:"on,omitempty"`

	ForceSendFields []string `json:"-"`
}

type outer struct {
	inner
	Items   []inner           `json:"items,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
	Ratio   float64           `json:"ratio,omitempty"`
	Small   int8              `json:"small,omitempty"`
	Unsign  uint              `json:"unsign,omitempty"`
	Extra   any               `json:"extra,omitempty"`
	Raw     json.RawMessage   `json:"raw,omitempty"`
	Ptr     *inner            `json:"ptr,omitempty"`
	Skipped string            `json:"-"`
}

func decode(t *testing.T, src string, opts DecodeOptions) (outer, Value, []string) {
	t.Helper()
	var out outer
	nv, diags := DecodeWith(parse(t, src), &out, NewPath("root"), opts)
	var msgs []string
	for _, d := range diags {
		msgs = append(msgs, d.Summary+" @"+d.Locations[0].String()+" "+strings.Join(d.Paths, ","))
	}
	return out, nv, msgs
}

func TestDecodeFillsAndNormalizes(t *testing.T) {
	out, nv, msgs := decode(t, `name: n
count: "3"
on: "false"
items: [{name: a, count: 0}]
tags: {k: 1}
ratio: "0.5"
small: 7
unsign: 8
extra: {any: [1]}
raw: {x: 1}
ptr: {name: p}
`, DecodeOptions{})
	require.Empty(t, msgs)
	assert.Equal(t, "n", out.Name)
	assert.Equal(t, 3, out.Count, "a numeric string fills an int")
	assert.False(t, out.On)
	assert.Equal(t, []string{"On"}, out.ForceSendFields, "an explicit false is recorded for the SDK")
	assert.Equal(t, []string{"Count"}, out.Items[0].ForceSendFields)
	assert.Equal(t, map[string]string{"k": "1"}, out.Tags, "a number fills a string")
	assert.Equal(t, 0.5, out.Ratio)
	assert.Equal(t, int8(7), out.Small)
	assert.Equal(t, uint(8), out.Unsign)
	assert.Equal(t, map[string]any{"any": []any{int64(1)}}, out.Extra)
	assert.JSONEq(t, `{"x":1}`, string(out.Raw))
	assert.Equal(t, "p", out.Ptr.Name)
	assert.Equal(t, int64(3), nv.Get("count").Interface(), "the normalized tree has the Go type")
	assert.Equal(t, false, nv.Get("on").Interface())
}

func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		name, src string
		want      string
	}{
		{"unknown field", "name: n\ncont: 1\n", `unknown field "cont" (did you mean "count"?) @f.yml:2:1 root.cont`},
		{"unknown without suggestion", "name: n\nzzzzzz: 1\n", `unknown field "zzzzzz" @f.yml:2:1 root.zzzzzz`},
		{"string for int", "name: n\ncount: many\n", `expected an integer, found string "many" @f.yml:2:8 root.count`},
		{"float for int", "name: n\ncount: 1.5\n", `expected an integer, found float 1.5 @f.yml:2:8 root.count`},
		{"overflow", "name: n\nsmall: 300\n", `integer 300 is out of range for int8 @f.yml:2:8 root.small`},
		{"negative unsigned", "name: n\nunsign: -1\n", `integer -1 is out of range for uint @f.yml:2:9 root.unsign`},
		{"bool", "name: n\non: yes please\n", `expected a bool, found string "yes please" @f.yml:2:5 root.on`},
		{"map for string", "name: {a: 1}\n", `expected a string, found map @f.yml:1:7 root.name`},
		{"scalar for list", "name: n\nitems: x\n", `expected a sequence, found string "x" @f.yml:2:8 root.items`},
		{"list for struct", "name: n\nptr: [1]\n", `expected a map, found sequence @f.yml:2:6 root.ptr`},
		{"missing required", "count: 1\n", `missing required field "name" @f.yml:1:1 root.name`},
		{"nested required", "name: n\nitems: [{count: 1}]\n", `missing required field "name" @f.yml:2:9 root.items[0].name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, msgs := decode(t, tt.src, DecodeOptions{})
			require.Len(t, msgs, 1, "%v", msgs)
			assert.Equal(t, tt.want, msgs[0])
		})
	}
}

func TestDecodeOptions(t *testing.T) {
	out, _, msgs := decode(t, "count: ${var.n}\nitems: ${var.list}\n", DecodeOptions{AllowReferences: true, Partial: true})
	assert.Empty(t, msgs, "references stand for values of any type; partial skips required fields")
	assert.Equal(t, 0, out.Count)
	_, _, msgs = decode(t, "count: ${var.n}\n", DecodeOptions{})
	assert.Len(t, msgs, 2, "strict: a reference is a string, and name is missing")
}

func TestDecodeSDKTypes(t *testing.T) {
	var job jobs.JobSettings
	_, diags := Decode(parse(t, `tasks:
  - task_key: t
    run_if: SOMETIMES
    new_cluster: {num_workers: 0}
performance_target: STANDARD
`), &job, nil)
	require.Len(t, diags, 1)
	assert.True(t, strings.HasPrefix(diags[0].Summary, `invalid value for run_if: value "SOMETIMES" is not one of`), diags[0].Summary)
	assert.Equal(t, jobs.PerformanceTargetStandard, job.PerformanceTarget)
	assert.Contains(t, job.Tasks[0].NewCluster.ForceSendFields, "NumWorkers")

	var ep serving.CreateServingEndpoint
	_, diags = Decode(parse(t, "name: e\nconfig:\n  name: x\n"), &ep, nil)
	require.Len(t, diags, 1)
	assert.Equal(t, `unknown field "name"`, diags[0].Summary, `json:"-" fields are not configuration`)
}

func typeOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }

func TestFieldNames(t *testing.T) {
	names := FieldNames(typeOf[*outer]())
	assert.Contains(t, names, "name", "embedded fields are promoted")
	assert.Contains(t, names, "items")
	assert.NotContains(t, names, "Skipped")
}
