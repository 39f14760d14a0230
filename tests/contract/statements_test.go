package contract

import (
	"net/http"
	"testing"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/sql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// The workspace's SQL warehouse is listed and read with the SDK's structs,
// RUNNING, under the id the emulator was given (Options.WarehouseID). A
// warehouse id that does not exist is 404 RESOURCE_DOES_NOT_EXIST
// "Warehouse <id> does not exist", as databricks/cli quotes the service
// for a request naming a missing warehouse (libs/genie/client_test.go,
// TestPostStream_ResourceNotFound; the dashboards acceptance test
// acceptance/bundle/resources/dashboards/publish-failure-cleans-up-dashboard).
func TestWarehousesListAndGet(t *testing.T) {
	ws := startUC(t, emulator.Options{WarehouseID: "abcdef0123456789"})
	c := testCtx(t)
	list, err := ws.w.Warehouses.ListAll(c, sql.ListWarehousesRequest{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "abcdef0123456789", list[0].Id)
	assert.Equal(t, sql.StateRunning, list[0].State)

	got, err := ws.w.Warehouses.GetById(c, "abcdef0123456789")
	require.NoError(t, err)
	assert.Equal(t, sql.StateRunning, got.State)
	assert.NotEmpty(t, got.OdbcParams.Path)

	_, err = ws.w.Warehouses.GetById(c, "0000000000000000")
	assert.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)

	def := startUC(t, emulator.Options{})
	assert.Equal(t, emulator.DefaultWarehouseID, def.srv.WarehouseID())
}

// A statement that fails as SQL is answered HTTP 200 with status.state
// FAILED and status.error {error_code, message}: the SDK's
// ExecuteStatementRequest.WaitTimeout doc ("the call returns immediately
// with a manifest and result data (or a FAILED state in case of an
// execution error)") and databricks/cli libs/testserver/statements.go ("A
// statement that terminates as FAILED comes back as HTTP 200 with
// state=FAILED"). A missing table is error_code BAD_REQUEST with the
// TABLE_OR_VIEW_NOT_FOUND condition, SQLSTATE 42P01 (Databricks error
// message reference, "TABLE_OR_VIEW_NOT_FOUND error condition"; databricks/cli
// cmd/pipelines/show_test.go and libs/testserver/testsql/testsql_test.go).
// A statement the emulator cannot run is FAILED with BAD_REQUEST too, as
// databricks/cli's test server fails a statement it has no handler for
// ("unsupported statement"); the [UNSUPPORTED_STATEMENT] wording is the
// emulator's. A missing warehouse is a request error (see
// TestWarehousesListAndGet for its wording); that the statement API
// answers it as HTTP 404 rather than a FAILED statement is not quoted
// publicly.
func TestStatementErrors(t *testing.T) {
	ws := startUC(t, emulator.Options{})
	c := testCtx(t)
	tests := []struct {
		name     string
		stmt     string
		sqlState string
		message  string
	}{
		{"missing table", "SELECT * FROM main.ml.nothing", "42P01", "[TABLE_OR_VIEW_NOT_FOUND] The table or view `main`.`ml`.`nothing` cannot be found."},
		{"unqualified table without a catalog", "SELECT * FROM nothing", "42P01", "[TABLE_OR_VIEW_NOT_FOUND] The table or view `nothing` cannot be found."},
		{"not a SELECT", "DELETE FROM main.ml.t", "", "[UNSUPPORTED_STATEMENT] The workspace emulator runs only SELECT"},
		{"a join", "SELECT * FROM a.b.c JOIN a.b.d", "", "[UNSUPPORTED_STATEMENT]"},
		{"an aggregate", "SELECT count(*) FROM a.b.c", "", "[UNSUPPORTED_STATEMENT]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ws.w.StatementExecution.ExecuteStatement(c, sql.ExecuteStatementRequest{WarehouseId: ws.srv.WarehouseID(), Statement: tt.stmt})
			require.NoError(t, err, "a FAILED statement is not an HTTP error")
			assert.Equal(t, sql.StatementStateFailed, res.Status.State)
			require.NotNil(t, res.Status.Error)
			assert.Equal(t, sql.ServiceErrorCodeBadRequest, res.Status.Error.ErrorCode)
			assert.Contains(t, res.Status.Error.Message, tt.message)
			assert.Equal(t, tt.sqlState, res.Status.SqlState)
			assert.Nil(t, res.Manifest)

			_, err = ws.w.StatementExecution.ExecuteAndWait(c, sql.ExecuteStatementRequest{WarehouseId: ws.srv.WarehouseID(), Statement: tt.stmt})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "FAILED: BAD_REQUEST "+tt.message)
		})
	}

	_, err := ws.w.StatementExecution.ExecuteStatement(c, sql.ExecuteStatementRequest{WarehouseId: "0000000000000000", Statement: "SELECT * FROM a.b.c"})
	ae := apiError(t, err)
	assert.Equal(t, http.StatusNotFound, ae.StatusCode)
	assert.Equal(t, "RESOURCE_DOES_NOT_EXIST", ae.ErrorCode)
	assert.Equal(t, "Warehouse 0000000000000000 does not exist", ae.Message)
}

// Statements are served with format JSON_ARRAY and disposition INLINE,
// the defaults (the SDK's ExecuteStatementRequest docs: "JSON_ARRAY
// (default)"; ARROW_STREAM and CSV are "supported only with
// EXTERNAL_LINKS disposition"). A wait_timeout of 0s answers PENDING and
// the statement's GET has the result ("the call returns directly with
// PENDING state and a statement ID which can be used for polling"); N
// must be 0 or 5 to 50. EXTERNAL_LINKS is the emulator's limitation, a
// 400 of its own wording.
func TestStatementFormatsAndWaiting(t *testing.T) {
	ws, _ := startRelease(t)
	c := testCtx(t)
	_, err := ws.query(t, releaseEndpoint, map[string]any{"text": "hi"})
	require.NoError(t, err)
	wh := ws.srv.WarehouseID()

	res, err := ws.w.StatementExecution.ExecuteStatement(c, sql.ExecuteStatementRequest{WarehouseId: wh, Statement: releaseStatement, WaitTimeout: "0s"})
	require.NoError(t, err)
	assert.Equal(t, sql.StatementStatePending, res.Status.State)
	got, err := ws.w.StatementExecution.GetStatementByStatementId(c, res.StatementId)
	require.NoError(t, err)
	assert.Equal(t, sql.StatementStateSucceeded, got.Status.State)
	assert.Len(t, got.Result.DataArray, 1)

	refused := []sql.ExecuteStatementRequest{
		{WarehouseId: wh, Statement: releaseStatement, Format: sql.FormatCsv},
		{WarehouseId: wh, Statement: releaseStatement, Disposition: sql.DispositionExternalLinks},
		{WarehouseId: wh, Statement: releaseStatement, WaitTimeout: "3s"},
	}
	for _, req := range refused {
		_, err := ws.w.StatementExecution.ExecuteStatement(c, req)
		assert.Equal(t, http.StatusBadRequest, apiError(t, err).StatusCode, "%+v", req)
	}
}
