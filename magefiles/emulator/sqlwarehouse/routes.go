package sqlwarehouse

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/sql"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

// keptStatements bounds the statements whose results a GET can still read.
const keptStatements = 256

// Routes are the SQL warehouse and Statement Execution routes
// databricks-sdk-go calls.
func (s *Store) Routes() []core.Route {
	return []core.Route{
		{Pattern: "GET /api/2.0/sql/warehouses", Op: "sql.warehouses.list", Handle: s.warehousesList},
		{Pattern: "GET /api/2.0/sql/warehouses/{id}", Op: "sql.warehouses.get", Handle: s.warehousesGet},
		{Pattern: "POST /api/2.0/sql/statements", Op: "sql.statements.execute", Handle: s.statementsExecute},
		{Pattern: "GET /api/2.0/sql/statements/{statement_id}", Op: "sql.statements.get", Handle: s.statementsGet},
	}
}

// warehouseMissing is the service's answer naming a warehouse that does not
// exist.
func warehouseMissing(id string) *core.Error {
	return core.NotFound("Warehouse %s does not exist", id)
}

func (s *Store) warehousesList(r *http.Request) (any, *core.Error) {
	var req sql.ListWarehousesRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	return sql.ListWarehousesResponse{Warehouses: []sql.EndpointInfo{s.warehouse()}}, nil
}

func (s *Store) warehousesGet(r *http.Request) (any, *core.Error) {
	if id := r.PathValue("id"); id != s.opts.ID {
		return nil, warehouseMissing(id)
	}
	return s.warehouseGet(), nil
}

// waitTimeout reads wait_timeout: "Ns" with N 0 or 5 to 50, 10s when unset.
func waitTimeout(v string) (int, *core.Error) {
	if v == "" {
		return 10, nil
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v, "s"))
	if err != nil || !strings.HasSuffix(v, "s") || (n != 0 && (n < 5 || n > 50)) {
		return 0, core.InvalidParam("wait_timeout must be 0s or between 5s and 50s, got '%s'.", v)
	}
	return n, nil
}

// checkRequest refuses what the service refuses and what the emulator does
// not serve, before anything runs.
func (s *Store) checkRequest(req sql.ExecuteStatementRequest) (int, *core.Error) {
	if req.WarehouseId == "" {
		return 0, core.InvalidParam("warehouse_id is required.")
	}
	if req.WarehouseId != s.opts.ID {
		return 0, warehouseMissing(req.WarehouseId)
	}
	if strings.TrimSpace(req.Statement) == "" {
		return 0, core.InvalidParam("statement is required.")
	}
	disposition := req.Disposition
	if disposition == "" {
		disposition = sql.DispositionInline
	}
	format := req.Format
	if format == "" {
		format = sql.FormatJsonArray
	}
	switch {
	case disposition == sql.DispositionInline && format != sql.FormatJsonArray:
		return 0, core.InvalidParam("Format %s is supported only with disposition EXTERNAL_LINKS.", format)
	case disposition != sql.DispositionInline:
		return 0, core.InvalidParam("The workspace emulator serves only disposition INLINE with format JSON_ARRAY, not %s.", disposition)
	case len(req.Parameters) > 0:
		return 0, core.InvalidParam("The workspace emulator does not run parameterized statements; put the values in the statement.")
	}
	return waitTimeout(req.WaitTimeout)
}

func (s *Store) statementsExecute(r *http.Request) (any, *core.Error) {
	var req sql.ExecuteStatementRequest
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	wait, aerr := s.checkRequest(req)
	if aerr != nil {
		return nil, aerr
	}
	id := statementID()
	answer := s.execute(id, req) // reads tables before this store's lock
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keep(id, answer)
	if wait == 0 {
		return pending(id), nil
	}
	return answer, nil
}

// execute runs a statement to its final answer.
func (s *Store) execute(id string, req sql.ExecuteStatementRequest) *statementJSON {
	q, err := parse(req.Statement)
	if err != nil {
		return failed(id, err)
	}
	name, ok := qualify(q.table, req.Catalog, req.Schema)
	if !ok {
		return failed(id, tableNotFound(quoteName(q.table)))
	}
	t, found := s.table(strings.Join(name, "."))
	if !found {
		return failed(id, tableNotFound(quoteName(name)))
	}
	res, err := run(q, t)
	if err != nil {
		return failed(id, err)
	}
	truncated := req.RowLimit > 0 && int64(len(res.rows)) > req.RowLimit
	if truncated {
		res.rows = res.rows[:req.RowLimit]
	}
	out := succeeded(id, res)
	out.Manifest.Truncated = truncated
	return out
}

// table reads a table through Options.Tables, without this store's lock.
func (s *Store) table(full string) (unitycatalog.Table, bool) {
	if s.opts.Tables == nil {
		return unitycatalog.Table{}, false
	}
	return s.opts.Tables.Table(full)
}

// keep stores a statement's final answer for its GET, dropping the oldest
// beyond keptStatements. Answers are never changed once kept, so they may
// be encoded after the lock is released. Call with s.mu held.
func (s *Store) keep(id string, answer *statementJSON) {
	s.statements[id] = answer
	s.order = append(s.order, id)
	if len(s.order) > keptStatements {
		delete(s.statements, s.order[0])
		s.order = s.order[1:]
	}
}

func (s *Store) statementsGet(r *http.Request) (any, *core.Error) {
	id := r.PathValue("statement_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	answer, ok := s.statements[id]
	if !ok {
		return nil, core.NotFound("Statement %s not found.", id)
	}
	return answer, nil
}
