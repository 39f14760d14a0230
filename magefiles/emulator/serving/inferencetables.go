//lint:file-ignore SA1019 the legacy auto_capture_config is deprecated; the emulator refuses it as the service does, which needs its type

package serving

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

// Inference tables are AI Gateway's (ai_gateway.inference_table_config):
// every invocation the served config answers is one row of
// <catalog>.<schema>.<prefix>_payload, the prefix defaulting to the
// endpoint's name. The service writes rows within about an hour; the
// emulator writes them before it answers, so a test reads them at once.
// Each row names the served entity that answered by its served_entity_id,
// which system.serving.served_entities maps to a model and version.
//
// Legacy inference tables (config.auto_capture_config) can no longer be
// enabled (since 2026-02-20) and are no longer supported (since
// 2026-03-20), so the emulator refuses to enable them and writes no
// legacy rows.

// PayloadColumns are an AI Gateway payload table's columns, in the order
// and types of real tables' DDL (no official column table was found).
var PayloadColumns = []unitycatalog.Column{
	{Name: "databricks_request_id", TypeName: "STRING", TypeText: "STRING"},
	{Name: "request_date", TypeName: "DATE", TypeText: "DATE"},
	{Name: "client_request_id", TypeName: "STRING", TypeText: "STRING"},
	{Name: "request_time", TypeName: "TIMESTAMP", TypeText: "TIMESTAMP"},
	{Name: "status_code", TypeName: "INT", TypeText: "INT"},
	{Name: "sampling_fraction", TypeName: "DOUBLE", TypeText: "DOUBLE"},
	{Name: "execution_duration_ms", TypeName: "LONG", TypeText: "BIGINT"},
	{Name: "request", TypeName: "STRING", TypeText: "STRING"},
	{Name: "response", TypeName: "STRING", TypeText: "STRING"},
	{Name: "logging_error_codes", TypeName: "ARRAY", TypeText: "ARRAY<STRING>"},
	{Name: "served_entity_id", TypeName: "STRING", TypeText: "STRING"},
	{Name: "requester", TypeName: "STRING", TypeText: "STRING"},
}

// ServedEntitiesTable is the system table of every served entity the
// account's endpoints have deployed.
const ServedEntitiesTable = "system.serving.served_entities"

// ServedEntitiesColumns are the columns of ServedEntitiesTable the emulator
// fills, in the documented order; the four *_config STRUCT columns are left
// out (their fields' types were not found).
var ServedEntitiesColumns = []unitycatalog.Column{
	{Name: "served_entity_id", TypeName: "STRING", TypeText: "STRING"},
	{Name: "account_id", TypeName: "STRING", TypeText: "STRING"},
	{Name: "workspace_id", TypeName: "STRING", TypeText: "STRING"},
	{Name: "created_by", TypeName: "STRING", TypeText: "STRING"},
	{Name: "endpoint_name", TypeName: "STRING", TypeText: "STRING"},
	{Name: "endpoint_id", TypeName: "STRING", TypeText: "STRING"},
	{Name: "served_entity_name", TypeName: "STRING", TypeText: "STRING"},
	{Name: "entity_type", TypeName: "STRING", TypeText: "STRING"},
	{Name: "entity_name", TypeName: "STRING", TypeText: "STRING"},
	{Name: "entity_version", TypeName: "STRING", TypeText: "STRING"},
	{Name: "endpoint_config_version", TypeName: "INT", TypeText: "INT"},
	{Name: "task", TypeName: "STRING", TypeText: "STRING"},
	{Name: "change_time", TypeName: "TIMESTAMP", TypeText: "TIMESTAMP"},
	{Name: "endpoint_delete_time", TypeName: "TIMESTAMP", TypeText: "TIMESTAMP"},
}

// AccountID is the account every emulated workspace belongs to, as
// ServedEntitiesTable reports it.
const AccountID = "00000000-0000-4000-8000-00000000acc1"

// customModel is the entity_type of a registered model's served entity.
const customModel = "CUSTOM_MODEL"

// sqlTimestamp renders a TIMESTAMP cell as JSON_ARRAY does: ISO 8601 in
// UTC with milliseconds. The width is fixed, so cells sort as times.
func sqlTimestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// errLegacyCapture refuses to enable a legacy inference table. The dates
// are Databricks' ("Monitor model serving endpoints"); the wording is the
// emulator's.
func errLegacyCapture() *core.Error {
	return core.InvalidParam("Legacy inference tables (config.auto_capture_config) can no longer be enabled: since February 20, 2026 they cannot be enabled on new or existing serving endpoints, and since March 20, 2026 they are no longer supported. Use AI Gateway inference tables (ai_gateway.inference_table_config) instead.")
}

// checkLegacyCapture refuses a config that enables auto_capture_config,
// whose enabled is true unless sent false. Disabling it is accepted and
// changes nothing.
func checkLegacyCapture(in *serving.AutoCaptureConfigInput) *core.Error {
	if in != nil && (in.Enabled || !slices.Contains(in.ForceSendFields, "Enabled")) {
		return errLegacyCapture()
	}
	return nil
}

// gatewayRec is an endpoint's ai_gateway as sent, stored and echoed; only
// its inference table is acted on.
type gateway struct {
	Config serving.AiGatewayConfig `json:"config"`
	// Table is the payload table's full name while inference tables are on.
	Table string `json:"table,omitempty"`
}

func (g *gateway) inference() *serving.AiGatewayInferenceTableConfig {
	if g == nil {
		return nil
	}
	return g.Config.InferenceTableConfig
}

// payloadTable is where invocations are logged, or "" when they are not.
func (g *gateway) payloadTable() string {
	if c := g.inference(); c == nil || !c.Enabled {
		return ""
	}
	return g.Table
}

func tablePrefix(c *serving.AiGatewayInferenceTableConfig, endpoint string) string {
	if c.TableNamePrefix != "" {
		return c.TableNamePrefix
	}
	return endpoint
}

// buildGateway validates an ai_gateway that replaces prev and creates its
// payload table when inference tables are enabled. Call with s.mu held
// (the metastore's lock is taken after it).
func (s *Store) buildGateway(in *serving.AiGatewayConfig, endpoint string, prev *gateway) (*gateway, *core.Error) {
	if in == nil {
		return nil, nil
	}
	g := &gateway{Config: *in}
	c := in.InferenceTableConfig
	if c == nil || !c.Enabled {
		return g, nil
	}
	if c.CatalogName == "" || c.SchemaName == "" {
		return nil, core.InvalidParam("ai_gateway.inference_table_config: catalog_name and schema_name are required to enable inference tables.")
	}
	if p := prev.inference(); p != nil && p.Enabled && (!strings.EqualFold(p.CatalogName, c.CatalogName) ||
		!strings.EqualFold(p.SchemaName, c.SchemaName) || !strings.EqualFold(tablePrefix(p, endpoint), tablePrefix(c, endpoint))) {
		return nil, core.InvalidParam("ai_gateway.inference_table_config: the catalog, schema and table name prefix cannot change while the inference table is enabled (%s); disable it first.", prev.Table)
	}
	full, aerr := s.tables.CreateTable(s.user, c.CatalogName, c.SchemaName, tablePrefix(c, endpoint)+"_payload", PayloadColumns)
	if aerr != nil && aerr.Status == http.StatusNotFound {
		// A 404 would read as "no such endpoint" to a client; the request's
		// parameter is what is wrong.
		return nil, core.InvalidParam("ai_gateway.inference_table_config: %s", aerr.Message)
	}
	if aerr != nil {
		return nil, aerr
	}
	g.Table = full
	return g, nil
}

// render is the ai_gateway GET reports: the configuration as stored.
func (g *gateway) render() *serving.AiGatewayConfig {
	if g == nil {
		return nil
	}
	out := g.Config
	if c := out.InferenceTableConfig; c != nil {
		cp := *c
		cp.ForceSendFields = []string{"Enabled"}
		out.InferenceTableConfig = &cp
	}
	return &out
}

// endpointsPutAIGateway replaces an endpoint's ai_gateway. It is not a
// config update: served entities and config_update are left as they are.
func (s *Store) endpointsPutAIGateway(r *http.Request) (any, *core.Error) {
	var req serving.PutAiGatewayRequest
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	ep, aerr := s.endpoint(r.PathValue("name"))
	if aerr != nil {
		return nil, aerr
	}
	g, aerr := s.buildGateway(&serving.AiGatewayConfig{
		FallbackConfig: req.FallbackConfig, Guardrails: req.Guardrails, InferenceTableConfig: req.InferenceTableConfig,
		RateLimits: req.RateLimits, UsageTrackingConfig: req.UsageTrackingConfig,
	}, ep.Name, ep.Gateway)
	if aerr != nil {
		return nil, aerr
	}
	ep.Gateway = g
	ep.Updated = s.clock.Now().UnixMilli()
	out := g.render()
	return serving.PutAiGatewayResponse{
		FallbackConfig: out.FallbackConfig, Guardrails: out.Guardrails, InferenceTableConfig: out.InferenceTableConfig,
		RateLimits: out.RateLimits, UsageTrackingConfig: out.UsageTrackingConfig,
	}, nil
}

// captured is one invocation as the payload table records it.
type captured struct {
	start     time.Time
	status    int
	latency   time.Duration // the model's execution time
	request   []byte
	response  []byte
	entityID  string // served_entity_id
	requester string
	clientReq string
}

// row renders an invocation as the payload table's cells.
func (c captured) row() []*string {
	var client *string
	if c.clientReq != "" {
		client = ptr(c.clientReq)
	}
	return []*string{
		ptr(requestID()), ptr(c.start.UTC().Format(time.DateOnly)), client, ptr(sqlTimestamp(c.start)),
		ptr(strconv.Itoa(c.status)), ptr("1.0"), ptr(strconv.FormatInt(c.latency.Milliseconds(), 10)),
		ptr(strings.TrimSpace(string(c.request))), ptr(string(c.response)), ptr("[]"),
		ptr(c.entityID), ptr(c.requester),
	}
}

func ptr(s string) *string { return &s }

// requestID is a UUID like the service's request ids. It does not draw from
// the seeded generator, so logging leaves routing draws as they were.
func requestID() string {
	b := randomBytes(16)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// newServedEntityID is a served_entity_id: 32 hex digits, as real payload
// tables show them. Unseeded, like requestID.
func newServedEntityID() string { return hex.EncodeToString(randomBytes(16)) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("emulator: no randomness: %v", err))
	}
	return b
}

// clientRequestID reads client_request_id from a scoring request's body.
func clientRequestID(body []byte) string {
	var in struct {
		ClientRequestID string `json:"client_request_id"`
	}
	_ = json.Unmarshal(body, &in) // a body that is not JSON has none
	return in.ClientRequestID
}

// logPayload appends an invocation to the endpoint's payload table, if it
// has one. The metastore's lock is taken alone.
func (s *Store) logPayload(table string, c captured) {
	if table == "" {
		return
	}
	_ = s.tables.AppendRow(table, c.row()) // the table exists while logging is on
}

// servedEntityRec is one row of ServedEntitiesTable: a served entity as
// the config update that deployed it made it.
type servedEntity struct {
	ID            string     `json:"served_entity_id"`
	EndpointName  string     `json:"endpoint_name"`
	EndpointID    string     `json:"endpoint_id"`
	Name          string     `json:"served_entity_name"`
	EntityName    string     `json:"entity_name"`
	EntityVersion string     `json:"entity_version"`
	ConfigVersion int64      `json:"endpoint_config_version"`
	CreatedBy     string     `json:"created_by"`
	ChangeTime    time.Time  `json:"change_time"`
	DeleteTime    *time.Time `json:"endpoint_delete_time,omitempty"`
}

// assignEntityIDs gives cfg's entities their served_entity_ids: an entity
// current serves unchanged keeps its id, any other is a new served entity.
func assignEntityIDs(cfg, current *config) {
	cfg.EntityIDs = map[string]string{}
	for _, e := range cfg.Entities {
		if id := current.entityID(e.Name); id != "" && !cfg.Deploying[e.Name] {
			cfg.EntityIDs[e.Name] = id
		} else {
			cfg.EntityIDs[e.Name] = newServedEntityID()
		}
	}
}

func (c *config) entityID(name string) string {
	if c == nil {
		return ""
	}
	return c.EntityIDs[name]
}

// logServedEntities records the entities a config update deployed (all of
// cfg's with all), when it took effect. Call with s.mu held.
func (s *Store) logServedEntities(ep *endpoint, cfg *config, at time.Time, all bool) {
	for _, e := range cfg.Entities {
		if !all && !cfg.Deploying[e.Name] {
			continue
		}
		s.st.ServedEntities = append(s.st.ServedEntities, &servedEntity{
			ID: cfg.EntityIDs[e.Name], EndpointName: ep.Name, EndpointID: ep.ID, Name: e.Name,
			EntityName: e.EntityName, EntityVersion: e.EntityVersion, ConfigVersion: cfg.Version,
			CreatedBy: e.Creator, ChangeTime: at,
		})
	}
}

// adoptServedConfigs gives the configs of a state file written before
// served_entity_ids existed their ids, logging the served ones.
func (s *Store) adoptServedConfigs() {
	for _, n := range s.sortedNames() {
		ep := s.st.Endpoints[n]
		if c := ep.Current; c != nil && c.EntityIDs == nil {
			assignEntityIDs(c, nil)
			s.logServedEntities(ep, c, time.UnixMilli(c.StartTime), true)
		}
		if c := ep.Pending; c != nil && c.EntityIDs == nil {
			assignEntityIDs(c, ep.Current)
		}
	}
}

// ServedEntityRows are this workspace's rows of ServedEntitiesTable, read
// by the metastore without its lock.
func (s *Store) ServedEntityRows() [][]*string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance() // an update that has finished has its rows
	ws := strconv.FormatInt(s.workspaceID, 10)
	rows := make([][]*string, 0, len(s.st.ServedEntities))
	for _, e := range s.st.ServedEntities {
		var deleted *string
		if e.DeleteTime != nil {
			deleted = ptr(sqlTimestamp(*e.DeleteTime))
		}
		rows = append(rows, []*string{
			ptr(e.ID), ptr(AccountID), ptr(ws), ptr(e.CreatedBy), ptr(e.EndpointName), ptr(e.EndpointID),
			ptr(e.Name), ptr(customModel), ptr(e.EntityName), ptr(e.EntityVersion),
			ptr(strconv.FormatInt(e.ConfigVersion, 10)), nil, ptr(sqlTimestamp(e.ChangeTime)), deleted,
		})
	}
	return rows
}

// markEndpointDeleted stamps endpoint_delete_time on a deleted endpoint's
// served entities. Call with s.mu held.
func (s *Store) markEndpointDeleted(ep *endpoint, at time.Time) {
	for _, e := range s.st.ServedEntities {
		if e.EndpointID == ep.ID && e.DeleteTime == nil {
			e.DeleteTime = &at
		}
	}
}
