package sqlwarehouse

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/sql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

type fakeTables map[string]unitycatalog.Table

func (f fakeTables) Table(full string) (unitycatalog.Table, bool) {
	t, ok := f[strings.ToLower(full)]
	return t, ok
}

// serve answers one request through the store's routes.
func serve(t *testing.T, s *Store, method, path, body string) (int, []byte) {
	t.Helper()
	mux := http.NewServeMux()
	for _, rt := range s.Routes() {
		mux.Handle(rt.Pattern, rt)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec.Code, rec.Body.Bytes()
}

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(Options{ID: "w1", Host: "http://127.0.0.1:1234", Tables: fakeTables{"c.s.t": table()}})
	require.NoError(t, err)
	return s
}

func TestNewNeedsAnID(t *testing.T) {
	_, err := New(Options{})
	assert.Error(t, err)
}

func TestWarehouseRoutes(t *testing.T) {
	s := newStore(t)
	code, body := serve(t, s, http.MethodGet, "/api/2.0/sql/warehouses/w1", "")
	require.Equal(t, http.StatusOK, code)
	var got sql.GetWarehouseResponse
	require.NoError(t, json.Unmarshal(body, &got))
	assert.Equal(t, "127.0.0.1", got.OdbcParams.Hostname)
	assert.Equal(t, "/sql/1.0/warehouses/w1", got.OdbcParams.Path)

	code, _ = serve(t, s, http.MethodGet, "/api/2.0/sql/warehouses?page_size=x", "")
	assert.Equal(t, http.StatusBadRequest, code, "query parameters are checked")
}

func TestExecuteStatement(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		want   string // a fragment of the answer
	}{
		{"rows with nulls", `{"warehouse_id":"w1","statement":"SELECT id, note FROM c.s.t WHERE code = 200"}`, http.StatusOK,
			`"data_array":[["a",null],["c","y"]]`},
		{"catalog and schema complete a name", `{"warehouse_id":"w1","catalog":"c","schema":"s","statement":"SELECT id FROM t LIMIT 1"}`, http.StatusOK,
			`"data_array":[["a"]]`},
		{"row_limit truncates", `{"warehouse_id":"w1","statement":"SELECT id FROM c.s.t","row_limit":1}`, http.StatusOK,
			`"truncated":true`},
		{"no rows, no chunk", `{"warehouse_id":"w1","statement":"SELECT id FROM c.s.t WHERE id = 'z'"}`, http.StatusOK,
			`"result":{}`},
		{"first column at position 0", `{"warehouse_id":"w1","statement":"SELECT id FROM c.s.t"}`, http.StatusOK,
			`{"name":"id","position":0,"type_name":"STRING","type_text":"STRING"}`},
		{"an unknown field", `{"warehouse_id":"w1","statement":"SELECT 1","nope":1}`, http.StatusBadRequest, "Cannot find field: nope"},
		{"no warehouse", `{"statement":"SELECT id FROM c.s.t"}`, http.StatusBadRequest, "warehouse_id is required"},
		{"no statement", `{"warehouse_id":"w1"}`, http.StatusBadRequest, "statement is required"},
		{"parameters", `{"warehouse_id":"w1","statement":"SELECT id FROM c.s.t WHERE id = :x","parameters":[{"name":"x","value":"a"}]}`, http.StatusBadRequest, "parameterized"},
		{"wait_timeout above 50s", `{"warehouse_id":"w1","statement":"SELECT id FROM c.s.t","wait_timeout":"51s"}`, http.StatusBadRequest, "wait_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := serve(t, newStore(t), http.MethodPost, "/api/2.0/sql/statements", tt.body)
			assert.Equal(t, tt.status, code, "%s", body)
			assert.Contains(t, string(body), tt.want)
		})
	}
}

func TestStatementGet(t *testing.T) {
	s := newStore(t)
	code, body := serve(t, s, http.MethodPost, "/api/2.0/sql/statements", `{"warehouse_id":"w1","statement":"SELECT id FROM c.s.t","wait_timeout":"0s"}`)
	require.Equal(t, http.StatusOK, code)
	var first sql.StatementResponse
	require.NoError(t, json.Unmarshal(body, &first))
	assert.Equal(t, sql.StatementStatePending, first.Status.State)

	code, body = serve(t, s, http.MethodGet, "/api/2.0/sql/statements/"+first.StatementId, "")
	require.Equal(t, http.StatusOK, code)
	var got sql.StatementResponse
	require.NoError(t, json.Unmarshal(body, &got))
	assert.Equal(t, sql.StatementStateSucceeded, got.Status.State)
	assert.EqualValues(t, 4, got.Manifest.TotalRowCount)

	code, body = serve(t, s, http.MethodGet, "/api/2.0/sql/statements/nope", "")
	assert.Equal(t, http.StatusNotFound, code)
	var e core.Error
	require.NoError(t, json.Unmarshal(body, &e))
	assert.Equal(t, core.CodeDoesNotExist, e.Code)
}

func TestKeptStatementsAreBounded(t *testing.T) {
	s := newStore(t)
	for i := 0; i < keptStatements+5; i++ {
		code, _ := serve(t, s, http.MethodPost, "/api/2.0/sql/statements", `{"warehouse_id":"w1","statement":"SELECT id FROM c.s.t"}`)
		require.Equal(t, http.StatusOK, code)
	}
	assert.Len(t, s.statements, keptStatements)
	assert.Len(t, s.order, keptStatements)
}
