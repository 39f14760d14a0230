package sqlwarehouse

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

// sqlError is a statement that failed as SQL: a FAILED statement with this
// error class, SQLSTATE and message.
type sqlError struct {
	sqlState string
	message  string
}

func (e *sqlError) Error() string { return e.message }

// tableNotFound is the TABLE_OR_VIEW_NOT_FOUND error condition, worded as
// the Databricks error message reference words it.
func tableNotFound(relation string) *sqlError {
	return &sqlError{sqlState: "42P01", message: "[TABLE_OR_VIEW_NOT_FOUND] The table or view " + relation +
		" cannot be found. Verify the spelling and correctness of the schema and catalog.\n" +
		"If you did not qualify the name with a schema, verify the current_schema() output, or qualify the name with the correct schema and catalog.\n" +
		"To tolerate the error on drop use DROP VIEW IF EXISTS or DROP TABLE IF EXISTS. SQLSTATE: 42P01"}
}

// unresolvedColumn is the UNRESOLVED_COLUMN.WITH_SUGGESTION error condition.
func unresolvedColumn(name string, cols []unitycatalog.Column) *sqlError {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = "`" + c.Name + "`"
	}
	return &sqlError{sqlState: "42703", message: fmt.Sprintf(
		"[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `%s` cannot be resolved. Did you mean one of the following? [%s]. SQLSTATE: 42703",
		name, strings.Join(names, ", "))}
}

// quoteName renders name parts as the error messages do: `a`.`b`.`c`.
func quoteName(parts []string) string {
	q := make([]string, len(parts))
	for i, p := range parts {
		q[i] = "`" + strings.ReplaceAll(p, "`", "``") + "`"
	}
	return strings.Join(q, ".")
}

// qualify completes a one- or two-part table name with the request's
// catalog and schema.
func qualify(parts []string, catalog, schema string) ([]string, bool) {
	switch len(parts) {
	case 3:
		return parts, true
	case 2:
		return []string{catalog, parts[0], parts[1]}, catalog != ""
	default:
		return []string{catalog, schema, parts[0]}, catalog != "" && schema != ""
	}
}

// result is a statement's columns and rows.
type result struct {
	columns []unitycatalog.Column
	rows    [][]*string
}

// run evaluates q over t.
func run(q *query, t unitycatalog.Table) (*result, error) {
	index := func(name string) (int, error) {
		for i, c := range t.Columns {
			if strings.EqualFold(c.Name, name) {
				return i, nil
			}
		}
		return 0, unresolvedColumn(name, t.Columns)
	}
	picked := make([]int, 0, len(t.Columns))
	if q.columns == nil {
		for i := range t.Columns {
			picked = append(picked, i)
		}
	}
	for _, c := range q.columns {
		i, err := index(c)
		if err != nil {
			return nil, err
		}
		picked = append(picked, i)
	}
	type filter struct {
		col  int
		cond condition
	}
	var filters []filter
	for _, c := range q.where {
		i, err := index(c.column)
		if err != nil {
			return nil, err
		}
		if typ := t.Columns[i].TypeName; composite[typ] {
			return nil, unsupportedf("a %s column cannot be compared", typ)
		}
		filters = append(filters, filter{i, c})
	}
	var rows [][]*string
	for _, r := range t.Rows {
		keep := true
		for _, f := range filters {
			keep = keep && equals(r[f.col], f.cond, t.Columns[f.col].TypeName)
		}
		if keep {
			rows = append(rows, r)
		}
	}
	if q.orderBy != "" {
		i, err := index(q.orderBy)
		if err != nil {
			return nil, err
		}
		typ := t.Columns[i].TypeName
		sort.SliceStable(rows, func(a, b int) bool {
			if q.desc {
				return less(rows[b][i], rows[a][i], typ)
			}
			return less(rows[a][i], rows[b][i], typ)
		})
	}
	if q.limit >= 0 && len(rows) > q.limit {
		rows = rows[:q.limit]
	}
	out := &result{rows: make([][]*string, len(rows))}
	for _, i := range picked {
		out.columns = append(out.columns, t.Columns[i])
	}
	for n, r := range rows {
		cells := make([]*string, len(picked))
		for j, i := range picked {
			cells[j] = r[i]
		}
		out.rows[n] = cells
	}
	return out, nil
}

// composite are the column types held as JSON text, which WHERE does not
// compare.
var composite = map[string]bool{"MAP": true, "ARRAY": true, "STRUCT": true}

// numeric are the column types compared as numbers.
var numeric = map[string]bool{"INT": true, "LONG": true, "SHORT": true, "BYTE": true, "DOUBLE": true, "FLOAT": true, "DECIMAL": true}

// equals is <cell> = <literal>; NULL equals nothing.
func equals(cell *string, c condition, typ string) bool {
	if cell == nil {
		return false
	}
	if numeric[typ] {
		a, errA := strconv.ParseFloat(*cell, 64)
		b, errB := strconv.ParseFloat(c.value, 64)
		return errA == nil && errB == nil && a == b
	}
	return *cell == c.value
}

// less orders cells of a column, NULL first as SQL's ascending order puts it.
func less(a, b *string, typ string) bool {
	if a == nil || b == nil {
		return a == nil && b != nil
	}
	if numeric[typ] {
		x, errX := strconv.ParseFloat(*a, 64)
		y, errY := strconv.ParseFloat(*b, 64)
		if errX == nil && errY == nil {
			return x < y
		}
	}
	return *a < *b
}
