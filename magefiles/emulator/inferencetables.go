package emulator

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

// Inference tables (the legacy auto_capture_config of an endpoint's
// config): every invocation the served config answers is one row of
// <catalog>.<schema>.<prefix>_payload, the prefix defaulting to the
// endpoint's name. The service writes rows within about an hour; the
// emulator writes them before it answers, so a test reads them at once.

// PayloadColumns are the payload table's columns, in the documented order
// and types ("Inference tables for monitoring and debugging models").
var PayloadColumns = []unitycatalog.Column{
	{Name: "databricks_request_id", TypeName: "STRING", TypeText: "STRING"},
	{Name: "client_request_id", TypeName: "STRING", TypeText: "STRING"},
	{Name: "date", TypeName: "DATE", TypeText: "DATE"},
	{Name: "timestamp_ms", TypeName: "LONG", TypeText: "BIGINT"},
	{Name: "status_code", TypeName: "INT", TypeText: "INT"},
	{Name: "sampling_fraction", TypeName: "DOUBLE", TypeText: "DOUBLE"},
	{Name: "execution_time_ms", TypeName: "LONG", TypeText: "BIGINT"},
	{Name: "request", TypeName: "STRING", TypeText: "STRING"},
	{Name: "response", TypeName: "STRING", TypeText: "STRING"},
	{Name: "request_metadata", TypeName: "MAP", TypeText: "MAP<STRING, STRING>"},
}

// PayloadTableStatus is what GET reports for a payload table being written.
// The docs name only FAILED (a table whose schema or grants were broken);
// the healthy value is the emulator's.
const PayloadTableStatus = "ACTIVE"

// captureRec is an endpoint config's auto_capture_config as served.
type captureRec struct {
	Catalog string `json:"catalog_name"`
	Schema  string `json:"schema_name"`
	Prefix  string `json:"table_name_prefix"`
	Enabled bool   `json:"enabled"`
	Table   string `json:"table,omitempty"` // full name, while enabled
}

func (c *captureRec) payloadName() string { return c.Prefix + "_payload" }

// buildCapture validates a config's auto_capture_config and creates its
// payload table. A config without one keeps the current config's, as an
// update that names only served entities leaves capture alone. Call with
// s.mu held (the metastore's lock is taken after it).
func (s *Server) buildCapture(in *serving.AutoCaptureConfigInput, endpoint string, current *configRec) (*captureRec, *apiError) {
	var prev *captureRec
	if current != nil {
		prev = current.Capture
	}
	if in == nil {
		return prev, nil
	}
	// enabled is true by default ("Enable inference tables on model
	// serving endpoints using the API").
	enabled := in.Enabled || !slices.Contains(in.ForceSendFields, "Enabled")
	c := &captureRec{Catalog: in.CatalogName, Schema: in.SchemaName, Prefix: in.TableNamePrefix, Enabled: enabled}
	if prev != nil && prev.Enabled && enabled {
		if c.Catalog == "" {
			c.Catalog = prev.Catalog
		}
		if c.Schema == "" {
			c.Schema = prev.Schema
		}
		if c.Prefix == "" {
			c.Prefix = prev.Prefix
		}
		if !strings.EqualFold(c.Catalog, prev.Catalog) || !strings.EqualFold(c.Schema, prev.Schema) || !strings.EqualFold(c.Prefix, prev.Prefix) {
			return nil, invalidParam("Cannot change the catalog, schema or table name prefix of auto_capture_config while the inference table is enabled; disable it first.")
		}
	}
	if c.Prefix == "" {
		c.Prefix = endpoint
	}
	if !enabled {
		return c, nil
	}
	if c.Catalog == "" || c.Schema == "" {
		return nil, invalidParam("auto_capture_config needs catalog_name and schema_name to enable the inference table.")
	}
	full, aerr := s.uc.CreateTable(s.user, c.Catalog, c.Schema, c.payloadName(), PayloadColumns)
	if aerr != nil && aerr.Status == http.StatusNotFound {
		// A 404 would read as "no such endpoint" to a client; the request's
		// parameter is what is wrong.
		return nil, invalidParam("auto_capture_config: %s", aerr.Message)
	}
	if aerr != nil {
		return nil, aerr
	}
	c.Table = full
	return c, nil
}

// checkAIGateway refuses an AI Gateway inference table, which has a
// different schema the emulator does not write.
func checkAIGateway(gw *serving.AiGatewayConfig) *apiError {
	if gw != nil && gw.InferenceTableConfig != nil && gw.InferenceTableConfig.Enabled {
		return invalidParam("ai_gateway.inference_table_config is not supported by the workspace emulator; use the config's auto_capture_config.")
	}
	return nil
}

// render is the auto_capture_config GET reports.
func (c *captureRec) render() *serving.AutoCaptureConfigOutput {
	if c == nil {
		return nil
	}
	out := &serving.AutoCaptureConfigOutput{
		CatalogName: c.Catalog, SchemaName: c.Schema, TableNamePrefix: c.Prefix,
		Enabled: c.Enabled, ForceSendFields: []string{"Enabled"},
	}
	if c.Enabled {
		out.State = &serving.AutoCaptureState{PayloadTable: &serving.PayloadTable{Name: c.payloadName(), Status: PayloadTableStatus}}
	}
	return out
}

// captured is one invocation as the payload table records it.
type captured struct {
	start     time.Time
	status    int
	latency   time.Duration // the model's execution time
	request   []byte
	response  []byte
	entity    serving.ServedEntityOutput
	endpoint  string
	clientReq string
}

// row renders an invocation as the payload table's cells.
func (c captured) row() []*string {
	meta, _ := json.Marshal(map[string]string{
		"endpoint_name": c.endpoint, "model_name": c.entity.EntityName, "model_version": c.entity.EntityVersion,
	})
	var client *string
	if c.clientReq != "" {
		client = ptr(c.clientReq)
	}
	utc := c.start.UTC()
	return []*string{
		ptr(requestID()), client, ptr(utc.Format(time.DateOnly)),
		ptr(strconv.FormatInt(utc.UnixMilli(), 10)), ptr(strconv.Itoa(c.status)), ptr("1.0"),
		ptr(strconv.FormatInt(c.latency.Milliseconds(), 10)),
		ptr(strings.TrimSpace(string(c.request))), ptr(string(c.response)), ptr(string(meta)),
	}
}

func ptr(s string) *string { return &s }

// requestID is a UUID like the service's request ids. It does not draw from
// the seeded generator, so capture leaves routing draws as they were.
func requestID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("emulator: no randomness: %v", err))
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// clientRequestID reads client_request_id from a scoring request's body.
func clientRequestID(body []byte) string {
	var in struct {
		ClientRequestID string `json:"client_request_id"`
	}
	_ = json.Unmarshal(body, &in) // a body that is not JSON has none
	return in.ClientRequestID
}

// capture appends an invocation to the payload table of the config that
// answered it, if it captures. The metastore's lock is taken alone.
func (s *Server) capture(table string, c captured) {
	if table == "" {
		return
	}
	_ = s.uc.AppendRow(table, c.row()) // the table exists while capture is on
}

// TableRows returns a table's rows as column name -> cell (nil for NULL),
// for tests; false when the metastore has no such table.
func (s *Server) TableRows(fullName string) ([]map[string]*string, bool) {
	t, ok := s.uc.Table(fullName)
	if !ok {
		return nil, false
	}
	out := make([]map[string]*string, len(t.Rows))
	for i, r := range t.Rows {
		m := make(map[string]*string, len(t.Columns))
		for j, c := range t.Columns {
			m[c.Name] = r[j]
		}
		out[i] = m
	}
	return out, true
}
