package dyn

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
)

func parse(t *testing.T, src string) Value {
	t.Helper()
	v, diags := FromYAML("f.yml", []byte(src))
	require.Empty(t, diags, "diagnostics:\n%s", diags)
	return v
}

func TestFromYAMLLocationsAndScalars(t *testing.T) {
	v := parse(t, `a:
  b: [1, "2", 2.5, true, null, 0x10, 2024-01-02, ~]
  c:
    - d: text
`)
	b := GetPath(v, MustPath("a.b"))
	items, ok := b.AsSeq()
	require.True(t, ok)
	require.Len(t, items, 8)
	want := []struct {
		kind Kind
		val  any
	}{
		{KindInt, int64(1)}, {KindString, "2"}, {KindFloat, 2.5}, {KindBool, true},
		{KindNil, nil}, {KindInt, int64(16)}, {KindString, "2024-01-02"}, {KindNil, nil},
	}
	for i, w := range want {
		assert.Equal(t, w.kind, items[i].Kind(), "item %d", i)
		assert.Equal(t, w.val, items[i].Interface(), "item %d", i)
	}
	assert.Equal(t, diag.Location{File: "f.yml", Line: 2, Column: 6}, b.Location())
	d := GetPath(v, MustPath("a.c[0].d"))
	assert.Equal(t, "f.yml:4:10", d.Location().String())
	assert.Equal(t, "text", d.MustString())
	m, ok := v.Get("a").AsMap()
	require.True(t, ok)
	assert.Equal(t, []string{"b", "c"}, m.Keys(), "keys keep source order")
}

func TestFromYAMLAnchorsAndMergeKeys(t *testing.T) {
	v := parse(t, `defaults: &d
  size: Small
  zero: true
a:
  <<: *d
  size: Large
b: *d
`)
	assert.Equal(t, "Large", GetPath(v, MustPath("a.size")).MustString(), "explicit keys win over merged ones")
	z, _ := GetPath(v, MustPath("a.zero")).AsBool()
	assert.True(t, z)
	assert.Equal(t, "Small", GetPath(v, MustPath("b.size")).MustString())
	assert.Equal(t, 7, GetPath(v, MustPath("b")).Location().Line, "an alias reads as written where it is used")
}

func TestFromYAMLProblems(t *testing.T) {
	tests := []struct {
		name, src, summary, at string
	}{
		{"syntax", "a: [1,\n", "invalid YAML: ", "f.yml:"},
		{"duplicate key", "a: 1\nb: 2\na: 3\n", `duplicate key "a"`, "f.yml:3:1"},
		{"map as key", "? {a: 1}\n: x\n", "a mapping key must be a scalar, found map", "f.yml:1:3"},
		{"merge of a scalar", "a:\n  <<: 5\n", "a merge key (<<) must refer to a mapping, found int", "f.yml:2:7"},
		{"two documents", "a: 1\n---\nb: 2\n", "a configuration file must hold one YAML document, found a second one", "f.yml:2:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := FromYAML("f.yml", []byte(tt.src))
			require.NotEmpty(t, diags)
			assert.True(t, strings.HasPrefix(diags[0].Summary, tt.summary), diags[0].Summary)
			assert.True(t, strings.HasPrefix(diags[0].Locations[0].String(), tt.at), diags[0].Locations[0].String())
		})
	}
}

func TestFromYAMLAliasBombIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	_, diags := FromYAML("bomb.yml", []byte(b.String()))
	require.NotEmpty(t, diags)
	assert.Contains(t, diags[len(diags)-1].Summary, "too large or too deeply nested")
}

func TestEmptyDocument(t *testing.T) {
	v, diags := FromYAML("e.yml", []byte("# only a comment\n"))
	assert.Empty(t, diags)
	assert.Equal(t, KindNil, v.Kind())
}

func TestMerge(t *testing.T) {
	a := parse(t, "m: {x: 1, y: [a]}\ns: old\n")
	b := parse(t, "m: {y: [b], z: 2}\ns: new\n")
	out, diags := Merge(a, b, nil)
	require.Empty(t, diags)
	assert.Equal(t, map[string]any{
		"m": map[string]any{"x": int64(1), "y": []any{"a", "b"}, "z": int64(2)},
		"s": "new",
	}, out.Interface())
	assert.Equal(t, "old", a.Get("s").MustString(), "merge does not change its inputs")

	_, diags = Merge(parse(t, "m: {x: 1}\n"), parse(t, "m: [1]\n"), nil)
	require.Len(t, diags, 1)
	assert.Equal(t, "cannot override a map with a sequence", diags[0].Summary)
	assert.Equal(t, []string{"m"}, diags[0].Paths)

	out, diags = Merge(parse(t, "a: 1\n"), Nil(diag.Location{}), nil)
	assert.Empty(t, diags)
	assert.Equal(t, map[string]any{"a": int64(1)}, out.Interface(), "null leaves the value alone")
}

func TestPaths(t *testing.T) {
	for _, s := range []string{"a", "a.b", "a[0]", "a.b[2][3].c", "resources.jobs.x.tasks[0]"} {
		p, err := ParsePath(s)
		require.NoError(t, err, s)
		assert.Equal(t, s, p.String())
	}
	for _, bad := range []string{"a..b", "a[x]", "a[1", ".a", "a[-1]"} {
		_, err := ParsePath(bad)
		assert.Error(t, err, bad)
	}
	assert.True(t, MustPath("a.b[0]").HasPrefix(MustPath("a.b")))
	assert.False(t, MustPath("a").HasPrefix(MustPath("a.b")))

	v := parse(t, "a:\n  b: [1, 2]\n")
	out, err := SetPath(v, MustPath("a.b[1]"), Int(9, diag.Location{}))
	require.NoError(t, err)
	assert.Equal(t, int64(9), GetPath(out, MustPath("a.b[1]")).Interface())
	assert.Equal(t, int64(2), GetPath(v, MustPath("a.b[1]")).Interface(), "SetPath copies")
	out, err = SetPath(v, MustPath("a.c.d"), String("new", diag.Location{}))
	require.NoError(t, err)
	assert.Equal(t, "new", GetPath(out, MustPath("a.c.d")).MustString())
	_, err = SetPath(v, MustPath("a.b[5]"), Int(1, diag.Location{}))
	assert.Error(t, err)
	_, err = SetPath(v, MustPath("a.b.c"), Int(1, diag.Location{}))
	assert.Error(t, err)
	assert.Equal(t, "f.yml:2:6", LocationOf(v, MustPath("a.b.missing.deeper")).String(), "missing values point at their nearest parent")
}

func TestIndentJSONKeepsOrder(t *testing.T) {
	v := parse(t, "z: 1\na: {c: \">= 1\", b: [true, 1.5]}\nn: .inf\n")
	out, err := IndentJSON(v)
	require.NoError(t, err)
	assert.Equal(t, `{
  "z": 1,
  "a": {
    "c": ">= 1",
    "b": [
      true,
      1.5
    ]
  },
  "n": ".inf"
}
`, string(out))
	var back map[string]any
	require.NoError(t, json.Unmarshal(out, &back))
}

func TestFromGo(t *testing.T) {
	v, err := FromGo(map[string]any{"b": []any{1, "x", 2.5, nil, true}, "a": json.Number("7")}, diag.Location{})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"b": []any{int64(1), "x", 2.5, nil, true}, "a": int64(7)}, v.Interface())
	_, err = FromGo(struct{}{}, diag.Location{})
	assert.Error(t, err)
}

func TestSuggest(t *testing.T) {
	candidates := []string{"tags", "tasks", "timeout_seconds", "name"}
	assert.Equal(t, "tasks", Suggest("taks", candidates))
	assert.Equal(t, "name", Suggest("nmae", candidates))
	assert.Equal(t, "timeout_seconds", Suggest("timeout_second", candidates))
	assert.Equal(t, "", Suggest("schedule", candidates))
}

func TestRewriteAndVisit(t *testing.T) {
	v := parse(t, "a: [x, {b: y}]\n")
	out := Rewrite(v, nil, func(_ Path, v Value) Value {
		if s, ok := v.AsString(); ok {
			return String(strings.ToUpper(s), v.Location())
		}
		return v
	})
	assert.Equal(t, map[string]any{"a": []any{"X", map[string]any{"b": "Y"}}}, out.Interface())
	var paths []string
	Visit(v, nil, func(p Path, _ Value) bool { paths = append(paths, p.String()); return true })
	assert.Equal(t, []string{"", "a", "a[0]", "a[1]", "a[1].b"}, paths)
}

func TestMappingDelete(t *testing.T) {
	m := NewMapping()
	for _, k := range []string{"a", "b", "c"} {
		m.SetString(k, String(k, diag.Location{}))
	}
	m.Delete("b")
	m.Delete("nope")
	assert.Equal(t, []string{"a", "c"}, m.Keys())
	got, ok := m.Get("c")
	require.True(t, ok)
	assert.Equal(t, "c", got.MustString())
}
