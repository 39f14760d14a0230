package unitycatalog

import (
	"net/http"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var payloadColumns = []Column{{Name: "id", TypeName: "STRING", TypeText: "STRING"}, {Name: "n", TypeName: "INT", TypeText: "INT"}}

func TestCreateTable(t *testing.T) {
	tests := []struct {
		name, principal, catalog, schema string
		cols                             []Column
		want                             string
		error                            *wantErr
	}{
		{"the schema's owner", owner, "dev", "s", payloadColumns, "dev.s.t", nil},
		{"again, same columns", owner, "DEV", "S", payloadColumns, "dev.s.t", nil},
		{"again, other columns", owner, "dev", "s", payloadColumns[:1], "", &wantErr{http.StatusConflict, "RESOURCE_ALREADY_EXISTS", "Table 'dev.s.t' already exists with other columns."}},
		{"a reader without CREATE TABLE", other, "dev", "s", payloadColumns, "", &wantErr{http.StatusForbidden, "PERMISSION_DENIED", "User does not have CREATE TABLE on Schema 'dev.s'."}},
		{"a missing schema", owner, "dev", "nope", payloadColumns, "", &wantErr{http.StatusNotFound, "SCHEMA_DOES_NOT_EXIST", "Schema 'dev.nope' does not exist."}},
	}
	m := metastore(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full, aerr := m.CreateTable(tt.principal, tt.catalog, tt.schema, "t", tt.cols)
			if tt.error != nil {
				require.NotNil(t, aerr)
				assert.Equal(t, *tt.error, wantErr{aerr.Status, aerr.Code, aerr.Message})
				return
			}
			require.Nil(t, aerr)
			assert.Equal(t, tt.want, full)
		})
	}

	require.NoError(t, m.Grant(catalog.SecurableTypeSchema, "dev.s", other, catalog.PrivilegeCreateTable))
	_, aerr := m.CreateTable(other, "dev", "s", "theirs", payloadColumns)
	require.Nil(t, aerr, "CREATE TABLE granted")
}

// A workspace's tables go to its state file and come back into another
// metastore with their rows.
func TestTableRowsPersistWithTheirOwner(t *testing.T) {
	m := metastore(t, Options{})
	_, aerr := m.CreateTable(owner, "dev", "s", "t", payloadColumns)
	require.Nil(t, aerr)
	one, two := "1", "2"
	require.NoError(t, m.AppendRow("DEV.S.T", []*string{&one, nil}))
	require.NoError(t, m.AppendRow("dev.s.t", []*string{&two, &two}))
	require.EqualError(t, m.AppendRow("dev.s.t", []*string{&one}), "append to table dev.s.t: 1 cells for 2 columns")
	require.EqualError(t, m.AppendRow("dev.s.nope", []*string{&one, &one}), "append to table dev.s.nope: no such table")

	saved := m.TablesOwnedBy(owner)
	require.Len(t, saved, 1)
	assert.Empty(t, m.TablesOwnedBy(other))
	m.TablesOwnedBy(owner)[0].Rows[0] = nil
	assert.NotNil(t, m.TablesOwnedBy(owner)[0].Rows[0], "a copy, not the metastore's rows")

	restored := New(Options{})
	restored.RestoreTables(saved)
	got, ok := restored.Table("dev.s.t")
	require.True(t, ok)
	assert.Equal(t, owner, got.Owner)
	assert.Equal(t, payloadColumns, got.Columns)
	require.Len(t, got.Rows, 2)
	assert.Nil(t, got.Rows[0][1], "NULL stays NULL")
	assert.Equal(t, "2", *got.Rows[1][1])
}

// A system table holds the rows every attached workspace supplies, until
// it detaches.
func TestSystemTable(t *testing.T) {
	m := New(Options{})
	row := func(v string) func() [][]*string { return func() [][]*string { return [][]*string{{&v}} } }
	cols := payloadColumns[:1]
	detachDev, err := m.AttachSystemTable("system.serving.t", cols, row("dev"))
	require.NoError(t, err)
	_, err = m.AttachSystemTable("system.serving.t", cols, row("prod"))
	require.NoError(t, err)
	_, err = m.AttachSystemTable("system.serving.t", payloadColumns, row("x"))
	require.EqualError(t, err, "attach to system table system.serving.t: its columns differ")

	cells := func() []string {
		tb, ok := m.Table("SYSTEM.serving.t")
		require.True(t, ok)
		assert.Equal(t, SystemOwner, tb.Owner)
		var out []string
		for _, r := range tb.Rows {
			out = append(out, *r[0])
		}
		return out
	}
	assert.Equal(t, []string{"dev", "prod"}, cells(), "in attach order")
	detachDev()
	assert.Equal(t, []string{"prod"}, cells())
}
