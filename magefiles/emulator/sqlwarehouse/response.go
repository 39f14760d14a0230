package sqlwarehouse

import (
	"errors"

	"github.com/databricks/databricks-sdk-go/service/sql"
)

// statementJSON is sql.StatementResponse with a result whose cells may be
// null: the SDK's ResultData holds [][]string, which cannot say NULL, and
// JSON_ARRAY sends null for it.
type statementJSON struct {
	Manifest    *sql.ResultManifest  `json:"manifest,omitempty"`
	Result      *resultJSON          `json:"result,omitempty"`
	StatementID string               `json:"statement_id"`
	Status      *sql.StatementStatus `json:"status"`
}

// resultJSON is sql.ResultData (its inline fields) with nullable cells.
type resultJSON struct {
	ChunkIndex *int        `json:"chunk_index,omitempty"`
	RowOffset  *int64      `json:"row_offset,omitempty"`
	RowCount   *int64      `json:"row_count,omitempty"`
	DataArray  [][]*string `json:"data_array,omitempty"`
}

// succeeded is the answer of a statement that ran: the manifest (format,
// schema, counts, one inline chunk) and its rows. A statement with no rows
// has no chunk and an empty result, as the service answers one.
func succeeded(id string, res *result) *statementJSON {
	cols := make([]sql.ColumnInfo, len(res.columns))
	for i, c := range res.columns {
		cols[i] = sql.ColumnInfo{
			Name: c.Name, Position: i, TypeName: sql.ColumnInfoTypeName(c.TypeName), TypeText: c.TypeText,
			ForceSendFields: []string{"Position"},
		}
	}
	n := int64(len(res.rows))
	manifest := &sql.ResultManifest{
		Format:        sql.FormatJsonArray,
		Schema:        &sql.ResultSchema{ColumnCount: len(cols), Columns: cols, ForceSendFields: []string{"ColumnCount"}},
		TotalRowCount: n, ForceSendFields: []string{"TotalRowCount", "TotalChunkCount"},
	}
	out := &statementJSON{StatementID: id, Manifest: manifest, Result: &resultJSON{}, Status: &sql.StatementStatus{State: sql.StatementStateSucceeded}}
	if n > 0 {
		zero, zero64 := 0, int64(0)
		manifest.TotalChunkCount = 1
		manifest.Chunks = []sql.BaseChunkInfo{{ChunkIndex: 0, RowOffset: 0, RowCount: n, ForceSendFields: []string{"ChunkIndex", "RowOffset"}}}
		out.Result = &resultJSON{ChunkIndex: &zero, RowOffset: &zero64, RowCount: &n, DataArray: res.rows}
	}
	return out
}

// failed is the answer of a statement that failed as SQL, or that the
// emulator cannot run.
func failed(id string, err error) *statementJSON {
	status := &sql.StatementStatus{State: sql.StatementStateFailed, Error: &sql.ServiceError{ErrorCode: sql.ServiceErrorCodeBadRequest, Message: err.Error()}}
	var se *sqlError
	var un unsupported
	switch {
	case errors.As(err, &se):
		status.SqlState = se.sqlState
	case errors.As(err, &un):
		status.Error.Message = "[UNSUPPORTED_STATEMENT] The workspace emulator runs only SELECT <col>[, <col>...] | * FROM <catalog>.<schema>.<table> " +
			"[WHERE <col> = <int or 'string'> [AND ...]] [ORDER BY <col> [ASC|DESC]] [LIMIT <n>]: " + un.reason + "."
	}
	return &statementJSON{StatementID: id, Status: status}
}

// pending is the answer of a statement submitted with wait_timeout 0s.
func pending(id string) *statementJSON {
	return &statementJSON{StatementID: id, Status: &sql.StatementStatus{State: sql.StatementStatePending}}
}
