package sqlwarehouse

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

func p(s string) *string { return &s }

// table is a small payload-like table: id, code (INT), note (nullable).
func table() unitycatalog.Table {
	return unitycatalog.Table{
		FullName: "c.s.t",
		Columns: []unitycatalog.Column{
			{Name: "id", TypeName: "STRING", TypeText: "STRING"},
			{Name: "code", TypeName: "INT", TypeText: "INT"},
			{Name: "note", TypeName: "STRING", TypeText: "STRING"},
			{Name: "meta", TypeName: "MAP", TypeText: "MAP<STRING, STRING>"},
			{Name: "at", TypeName: "TIMESTAMP", TypeText: "TIMESTAMP"},
			{Name: "codes", TypeName: "ARRAY", TypeText: "ARRAY<STRING>"},
		},
		Rows: [][]*string{
			{p("a"), p("200"), nil, p(`{"k":"1"}`), p("2026-12-07T14:03:00.123Z"), p("[]")},
			{p("b"), p("500"), p("x"), p(`{"k":"2"}`), p("2026-12-07T09:00:00.000Z"), p("[]")},
			{p("c"), p("200"), p("y"), p(`{"k":"3"}`), p("2026-12-08T00:00:00.000Z"), p("[]")},
			{p("d"), p("1000"), p("x"), p(`{"k":"4"}`), p("2026-11-30T23:59:59.999Z"), p(`["MAX_REQUEST_SIZE_EXCEEDED"]`)},
		},
	}
}

func ids(r *result) []string {
	var out []string
	for _, row := range r.rows {
		out = append(out, *row[0])
	}
	return out
}

func TestRun(t *testing.T) {
	tests := []struct {
		sql  string
		want []string
	}{
		{"SELECT id FROM t", []string{"a", "b", "c", "d"}},
		{"SELECT id FROM t WHERE code = 200", []string{"a", "c"}},
		{"SELECT id FROM t WHERE code = '200'", []string{"a", "c"}},
		{"SELECT id FROM t WHERE note = 'x' AND code = 1000", []string{"d"}},
		{"SELECT id FROM t ORDER BY code DESC", []string{"d", "b", "a", "c"}},
		{"SELECT id FROM t ORDER BY code", []string{"a", "c", "b", "d"}},
		{"SELECT id FROM t ORDER BY note", []string{"a", "b", "d", "c"}},
		{"SELECT id FROM t ORDER BY note DESC LIMIT 2", []string{"c", "b"}},
		{"SELECT id FROM t LIMIT 0", nil},
		{"SELECT id FROM t ORDER BY at DESC", []string{"c", "a", "b", "d"}},
		{"SELECT id FROM t WHERE code = 200 ORDER BY at DESC LIMIT 1", []string{"c"}},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			q, err := parse(tt.sql)
			require.NoError(t, err)
			got, err := run(q, table())
			require.NoError(t, err)
			assert.Equal(t, tt.want, ids(got))
		})
	}
}

func TestRunColumns(t *testing.T) {
	q, err := parse("SELECT META, id FROM t LIMIT 1")
	require.NoError(t, err)
	got, err := run(q, table())
	require.NoError(t, err)
	assert.Equal(t, "meta", got.columns[0].Name, "names resolve case-insensitively")
	assert.Equal(t, `{"k":"1"}`, *got.rows[0][0])

	for _, bad := range []string{"SELECT nope FROM t", "SELECT id FROM t WHERE nope = 1", "SELECT id FROM t ORDER BY nope"} {
		q, err := parse(bad)
		require.NoError(t, err)
		_, err = run(q, table())
		var se *sqlError
		require.ErrorAs(t, err, &se, bad)
		assert.Equal(t, "42703", se.sqlState)
		assert.Contains(t, se.message, "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `nope` cannot be resolved.")
	}
	for _, sql := range []string{"SELECT id FROM t WHERE meta = 'x'", "SELECT id FROM t WHERE codes = '[]'"} {
		q, err = parse(sql)
		require.NoError(t, err)
		_, err = run(q, table())
		assert.ErrorAs(t, err, new(unsupported), sql)
	}
}
