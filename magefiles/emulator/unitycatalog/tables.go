package unitycatalog

import (
	"fmt"
	"net/http"
	"slices"
	"sort"

	"github.com/databricks/databricks-sdk-go/service/catalog"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// Column is a table column: its name and SQL type as the Statement
// Execution API's manifest reports it (type_name "LONG", type_text
// "BIGINT").
type Column struct {
	Name     string `json:"name"`
	TypeName string `json:"type_name"`
	TypeText string `json:"type_text"`
}

// Table is a managed table of the metastore: the inference payload tables
// serving endpoints write and SQL warehouses read. Cells are kept as the
// JSON_ARRAY format renders them (a string, or nil for NULL), so they
// persist as they are read; the SQL side compares them by column type.
type Table struct {
	FullName string      `json:"full_name"`
	Owner    string      `json:"owner"`
	Columns  []Column    `json:"columns"`
	Rows     [][]*string `json:"rows"`
}

// clone copies t deeply enough to be read without the metastore's lock.
func (t *Table) clone() Table {
	out := *t
	out.Columns = slices.Clone(t.Columns)
	out.Rows = make([][]*string, len(t.Rows))
	for i, r := range t.Rows {
		out.Rows[i] = slices.Clone(r)
	}
	return out
}

// CreateTable creates catalogName.schemaName.name with these columns, owned
// by principal, who needs USE CATALOG, USE SCHEMA and CREATE TABLE (or
// ownership), as the inference tables docs require of an endpoint's
// creator. A table that exists with the same columns is kept with its rows,
// as re-enabling capture on an endpoint keeps its table.
func (m *Metastore) CreateTable(principal, catalogName, schemaName, name string, cols []Column) (string, *core.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	catalogName, schemaName, name = norm(catalogName), norm(schemaName), norm(name)
	if !validName.MatchString(name) {
		return "", core.InvalidParam("Invalid table name '%s'.", name)
	}
	schemaFull := catalogName + "." + schemaName
	if aerr := m.schemaExists(schemaFull); aerr != nil {
		return "", aerr
	}
	if aerr := m.canEnter(principal, schemaFull); aerr != nil {
		return "", aerr
	}
	if aerr := m.need(principal, key{typeSchema, schemaFull}, catalog.PrivilegeCreateTable); aerr != nil {
		return "", aerr
	}
	full := schemaFull + "." + name
	if t, ok := m.tables[full]; ok {
		if !slices.Equal(t.Columns, cols) {
			return "", core.NewError(http.StatusConflict, core.CodeAlreadyExists, "Table '%s' already exists with other columns.", full)
		}
		return full, nil
	}
	m.tables[full] = &Table{FullName: full, Owner: principal, Columns: slices.Clone(cols)}
	return full, nil
}

// AppendRow adds a row to a table; its cells follow the table's columns.
func (m *Metastore) AppendRow(full string, row []*string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tables[norm(full)]
	if !ok {
		return fmt.Errorf("append to table %s: no such table", full)
	}
	if len(row) != len(t.Columns) {
		return fmt.Errorf("append to table %s: %d cells for %d columns", full, len(row), len(t.Columns))
	}
	t.Rows = append(t.Rows, slices.Clone(row))
	return nil
}

// Table is a copy of a table, found by its full name (case-insensitive).
// A system table is read from its sources without the metastore's lock, so
// a source may take its workspace's lock.
func (m *Metastore) Table(full string) (Table, bool) {
	m.mu.Lock()
	if st, ok := m.system[norm(full)]; ok {
		out := Table{FullName: st.name, Owner: SystemOwner, Columns: slices.Clone(st.columns)}
		sources := make([]func() [][]*string, 0, len(st.sources))
		for _, id := range st.order {
			sources = append(sources, st.sources[id])
		}
		m.mu.Unlock()
		for _, rows := range sources {
			out.Rows = append(out.Rows, rows()...)
		}
		return out, true
	}
	defer m.mu.Unlock()
	t, ok := m.tables[norm(full)]
	if !ok {
		return Table{}, false
	}
	return t.clone(), true
}

// SystemOwner owns the system tables.
const SystemOwner = "System user"

// systemTable is a system table: its columns and, per attached workspace,
// the function that lists that workspace's rows.
type systemTable struct {
	name    string
	columns []Column
	sources map[int64]func() [][]*string
	order   []int64 // source ids, in attach order
	next    int64
}

// AttachSystemTable adds a workspace's rows to the system table full
// (system.<schema>.<table>), creating it with cols. A system table holds
// the rows of every workspace attached to the metastore, as Databricks'
// system tables hold the account's, and every workspace reads it without
// grants. rows is called without the metastore's lock and must return
// cells that are not changed afterwards. The returned function detaches
// the workspace (when its server closes).
func (m *Metastore) AttachSystemTable(full string, cols []Column, rows func() [][]*string) (detach func(), err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := norm(full)
	st, ok := m.system[key]
	switch {
	case !ok:
		st = &systemTable{name: key, columns: slices.Clone(cols), sources: map[int64]func() [][]*string{}}
		m.system[key] = st
	case !slices.Equal(st.columns, cols):
		return nil, fmt.Errorf("attach to system table %s: its columns differ", full)
	}
	st.next++
	id := st.next
	st.sources[id] = rows
	st.order = append(st.order, id)
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(st.sources, id)
		st.order = slices.DeleteFunc(st.order, func(x int64) bool { return x == id })
	}, nil
}

// TablesOwnedBy are copies of the tables principal owns, by name: what a
// workspace writes to its state file (the metastore itself is not
// persisted, the tables its workspaces' endpoints fill are).
func (m *Metastore) TablesOwnedBy(principal string) []Table {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Table
	for _, t := range m.tables {
		if t.Owner == principal {
			out = append(out, t.clone())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FullName < out[j].FullName })
	return out
}

// RestoreTables puts tables read from a state file back, replacing any of
// the same name. Their catalog and schema need not exist yet: seeding comes
// after the workspaces start.
func (m *Metastore) RestoreTables(tables []Table) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range tables {
		c := t.clone()
		c.FullName = norm(c.FullName)
		m.tables[c.FullName] = &c
	}
}
