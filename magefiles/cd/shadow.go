package cd

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/databricks/databricks-sdk-go/service/sql"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
	"github.com/hitl-mlops/interrupt-agent/magefiles/validation"
	"github.com/hitl-mlops/interrupt-agent/magefiles/verify"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// The shadow replay reads what production answered from the endpoint's AI
// Gateway inference table (docs.databricks.com/aws/en/ai-gateway/inference-tables;
// the legacy auto_capture_config tables can no longer be enabled since
// 2026-02-20), and which version answered from the served entities system
// table (docs.databricks.com/aws/en/admin/system-tables/served-entities-system-table),
// both through the SQL Statement Execution API on the bundle's warehouse.

// ServedEntitiesTable is the system table that names the model version
// behind each served_entity_id of an inference table.
const ServedEntitiesTable = "system.serving.served_entities"

// shadowOverfetch reads more rows than the replay needs: evaluation
// requests, errors and other versions' answers are dropped after reading.
const shadowOverfetch = 2

// shadow replays recorded production requests the champion answered to the
// challenger. It never fails the gate by itself: what it cannot read it
// reports as skipped, with the reason.
func (s *State) shadow(ctx context.Context, p *bundle.ValidationPolicy, src *workspace.Client, challenger ServedVersion, champion *ServedVersion) *validation.Shadow {
	switch {
	case p.ShadowRequests == 0:
		return validation.SkippedShadow(bundle.VarValidationShadow + " is 0")
	case champion == nil:
		return validation.SkippedShadow("nothing serves production yet, so there are no recorded answers to compare with")
	case p.WarehouseID == "":
		return validation.SkippedShadow("no SQL warehouse to read the inference table with: set the bundle variable " + bundle.VarValidationWarehouse)
	}
	ep, err := s.Client.W.ServingEndpoints.GetByName(ctx, champion.Endpoint)
	if err != nil {
		return validation.SkippedShadow(fmt.Sprintf("endpoint %s: %v", champion.Endpoint, err))
	}
	table, why := payloadTable(ep)
	if table == "" {
		return validation.SkippedShadow(why)
	}
	recs, err := readRecorded(ctx, s.Client.W.StatementExecution, p.WarehouseID, table, *champion, p.ShadowRequests)
	if err != nil {
		return validation.SkippedShadow(fmt.Sprintf("reading %s: %v", table, err))
	}
	if len(recs) == 0 {
		return validation.SkippedShadow(fmt.Sprintf("%s holds no request that %s v%s answered", table, champion.Model, champion.Version))
	}
	s.Printf("   shadow: replaying %d recorded request(s) from %s\n", len(recs), table)
	messages := make([]string, len(recs))
	for i, r := range recs {
		messages[i] = r.Message
	}
	answers, err := ask(ctx, src.W.ServingEndpoints, challenger, messages, s.Release.Tag+"-shadow")
	if err != nil {
		return validation.SkippedShadow(err.Error())
	}
	out, err := validation.CompareShadow(table, recs, answers)
	if err != nil {
		return validation.SkippedShadow(err.Error())
	}
	return out
}

// payloadTable names the endpoint's inference table, or says why there is
// none. The table is <catalog>.<schema>.<prefix>_payload; an empty prefix
// is the endpoint's name.
func payloadTable(ep *serving.ServingEndpointDetailed) (string, string) {
	var c *serving.AiGatewayInferenceTableConfig
	if ep.AiGateway != nil {
		c = ep.AiGateway.InferenceTableConfig
	}
	if c == nil || !c.Enabled {
		return "", fmt.Sprintf("endpoint %s logs no payloads: enable ai_gateway.inference_table_config on its resource", ep.Name)
	}
	prefix := c.TableNamePrefix
	if prefix == "" {
		prefix = ep.Name
	}
	return quoteName(c.CatalogName, c.SchemaName, prefix+"_payload"), ""
}

// quoteName backquotes each part of a table name (endpoint names may hold
// dashes, which SQL identifiers do not).
func quoteName(parts ...string) string {
	q := make([]string, len(parts))
	for i, p := range parts {
		q[i] = "`" + strings.ReplaceAll(p, "`", "``") + "`"
	}
	return strings.Join(q, ".")
}

// statements is the part of the SDK's statement execution service the
// replay uses.
type statements interface {
	ExecuteAndWait(ctx context.Context, req sql.ExecuteStatementRequest) (*sql.StatementResponse, error)
}

// readRecorded returns up to n recorded requests the champion answered,
// newest first, one per record of each logged request, leaving out the
// traffic this tooling sent itself (evaluation, verify, canary probes).
func readRecorded(ctx context.Context, st statements, warehouse, table string, champion ServedVersion, n int) ([]validation.Recorded, error) {
	entities, err := query(ctx, st, warehouse, fmt.Sprintf(
		"SELECT served_entity_id, entity_name, entity_version FROM %s WHERE endpoint_name = '%s'",
		ServedEntitiesTable, strings.ReplaceAll(champion.Endpoint, "'", "''")))
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, row := range entities {
		if row["entity_name"] == champion.Model && row["entity_version"] == champion.Version {
			ids[row["served_entity_id"]] = true
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := query(ctx, st, warehouse, fmt.Sprintf(
		"SELECT databricks_request_id, client_request_id, request_time, status_code, request, response, served_entity_id FROM %s WHERE status_code = 200 ORDER BY request_time DESC LIMIT %d",
		table, n*shadowOverfetch))
	if err != nil {
		return nil, err
	}
	var out []validation.Recorded
	for _, row := range rows {
		if !ids[row["served_entity_id"]] || synthetic(row["client_request_id"]) {
			continue
		}
		for _, r := range recordedPairs(row["databricks_request_id"], row["request"], row["response"]) {
			if len(out) == n {
				return out, nil
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// syntheticPrefixes start the client_request_id of the traffic this
// tooling sends itself: none of it is production's.
var syntheticPrefixes = []string{ValidationRequestPrefix, verify.ClientRequestPrefix, rollout.ProbeRequestPrefix}

func synthetic(clientRequestID string) bool {
	for _, p := range syntheticPrefixes {
		if strings.HasPrefix(clientRequestID, p) {
			return true
		}
	}
	return false
}

// recordedPairs pairs each new-request record of a logged request with the
// prediction logged for it; resume records and anything unreadable are
// left out (a payload too large to log is stored without it).
func recordedPairs(id, request, response string) []validation.Recorded {
	var req struct {
		Records []map[string]any `json:"dataframe_records"`
	}
	var resp struct {
		Predictions []any `json:"predictions"`
	}
	if json.Unmarshal([]byte(request), &req) != nil || json.Unmarshal([]byte(response), &resp) != nil || len(req.Records) != len(resp.Predictions) {
		return nil
	}
	var out []validation.Recorded
	for i, rec := range req.Records {
		msg, _ := rec["message"].(string)
		if strings.TrimSpace(msg) == "" {
			continue
		}
		a, err := answerOf(resp.Predictions[i])
		if err != nil {
			continue
		}
		rid := id
		if len(req.Records) > 1 {
			rid += "#" + strconv.Itoa(i+1)
		}
		out = append(out, validation.Recorded{RequestID: rid, Message: msg, Champion: a})
	}
	return out
}

// query runs one statement and returns its rows by column name.
func query(ctx context.Context, st statements, warehouse, statement string) ([]map[string]string, error) {
	resp, err := st.ExecuteAndWait(ctx, sql.ExecuteStatementRequest{
		WarehouseId: warehouse, Statement: statement, WaitTimeout: "30s",
		Format: sql.FormatJsonArray, Disposition: sql.DispositionInline,
	})
	if err != nil {
		return nil, err
	}
	if resp.Manifest == nil || resp.Manifest.Schema == nil {
		return nil, fmt.Errorf("statement %s: no result schema", resp.StatementId)
	}
	if resp.Manifest.Truncated || resp.Manifest.TotalChunkCount > 1 {
		return nil, fmt.Errorf("statement %s: the result is larger than one inline chunk", resp.StatementId)
	}
	cols := resp.Manifest.Schema.Columns
	var rows []map[string]string
	if resp.Result != nil {
		for _, values := range resp.Result.DataArray {
			row := make(map[string]string, len(cols))
			for i, c := range cols {
				if i < len(values) {
					row[c.Name] = values[i]
				}
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}
