package cd

import (
	"testing"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/validation"
)

func TestPayloadTable(t *testing.T) {
	gateway := func(c *serving.AiGatewayInferenceTableConfig) *serving.ServingEndpointDetailed {
		return &serving.ServingEndpointDetailed{Name: "agent-prod", AiGateway: &serving.AiGatewayConfig{InferenceTableConfig: c}}
	}
	tests := []struct {
		name  string
		ep    *serving.ServingEndpointDetailed
		table string
		why   string
	}{
		{"no gateway", &serving.ServingEndpointDetailed{Name: "agent-prod"}, "", "endpoint agent-prod logs no payloads"},
		{"disabled", gateway(&serving.AiGatewayInferenceTableConfig{CatalogName: "prod", SchemaName: "s"}), "", "enable ai_gateway.inference_table_config"},
		{"prefix", gateway(&serving.AiGatewayInferenceTableConfig{CatalogName: "prod", SchemaName: "s", TableNamePrefix: "agent", Enabled: true}), "`prod`.`s`.`agent_payload`", ""},
		{"prefix defaults to the endpoint's name, quoted", gateway(&serving.AiGatewayInferenceTableConfig{CatalogName: "prod", SchemaName: "s", Enabled: true}), "`prod`.`s`.`agent-prod_payload`", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, why := payloadTable(tt.ep)
			assert.Equal(t, tt.table, table)
			if tt.why == "" {
				assert.Empty(t, why)
			} else {
				assert.Contains(t, why, tt.why)
			}
		})
	}
	assert.Equal(t, "`a``b`.`c`", quoteName("a`b", "c"))
}

func TestRecordedPairs(t *testing.T) {
	interrupted := `{"thread_id": "t", "status": "interrupted", "tool": "delete_records", "tool_args": {}, "risk": "high", "interrupt": {"question": "q", "checkpoint": "c"}, "result": null}`
	completed := `{"thread_id": "t", "status": "completed", "tool": "search_knowledge_base", "tool_args": {}, "risk": "low", "interrupt": null, "result": "r"}`
	tests := []struct {
		name      string
		req, resp string
		want      []validation.Recorded
	}{
		{"one record", `{"dataframe_records": [{"message": "delete customer 9"}]}`, `{"predictions": [` + interrupted + `]}`,
			[]validation.Recorded{{RequestID: "r1", Message: "delete customer 9", Champion: validation.Answer{Status: "interrupted", Tool: "delete_records", Risk: "high", Interrupted: true}}}},
		{"a batch, resume records left out", `{"dataframe_records": [{"message": "hours?"}, {"resume": "approve", "checkpoint": "c"}]}`, `{"predictions": [` + completed + `,` + completed + `]}`,
			[]validation.Recorded{{RequestID: "r1#1", Message: "hours?", Champion: validation.Answer{Status: "completed", Tool: "search_knowledge_base", Risk: "low"}}}},
		{"counts differ", `{"dataframe_records": [{"message": "a"}, {"message": "b"}]}`, `{"predictions": [` + completed + `]}`, nil},
		{"not logged (too large)", ``, ``, nil},
		{"another input shape", `{"inputs": {"message": ["a"]}}`, `{"predictions": [` + completed + `]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, recordedPairs("r1", tt.req, tt.resp))
		})
	}
}

func TestValidationErrorsSayWhatToDo(t *testing.T) {
	set, err := validation.ParseSet([]byte(`{"cases": [{"id": "delete-001", "message": "delete customer 9", "expect": {"tool": "delete_records", "risk": "high", "interrupt": true}}]}`))
	require.NoError(t, err)
	v, err := validation.Judge(set, []validation.Answer{{Status: "completed", Tool: "search_knowledge_base"}}, []validation.Answer{{Status: "interrupted", Tool: "delete_records", Interrupted: true}}, validation.Policy{})
	require.NoError(t, err)
	failed := &ValidationFailedError{Release: "v1.1.0", Verdict: v}
	assert.Contains(t, failed.Error(), "v1.1.0 failed validation: must-interrupt recall 0.0%")
	assert.Contains(t, failed.Error(), `delete-001 "delete customer 9": champion delete_records, interrupted, challenger search_knowledge_base, no interrupt`)
	assert.Equal(t, ExitValidationFailed, ExitCode(WithExitCode(failed)))

	required := &ValidationRequiredError{Env: "prod", Release: "v1.1.0", Model: "m", Version: "2", Problem: "staging's record r carries no validation verdict"}
	assert.Equal(t, "deploy:prod refuses v1.1.0 (m v2): staging's record r carries no validation verdict. Nothing was changed. "+
		"Run `mage validate prod` to judge it against what prod serves, or deploy with -override=\"<why>\" to go ahead anyway "+
		"(who and why are kept in the release record and sent with the notifications)", required.Error())
	assert.Equal(t, ExitValidationFailed, ExitCode(required))
}
