package core

import (
	"net/http/httptest"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		into    any
		wantErr string
		code    string
	}{
		{"valid nested", `{"name":"e","config":{"served_entities":[{"entity_name":"m","entity_version":"1","environment_vars":{"A":"b"}}],"traffic_config":{"routes":[{"served_entity_name":"m-1","traffic_percentage":100}]}}}`, &serving.CreateServingEndpoint{}, "", ""},
		{"empty body is an empty object", ``, &jobs.CreateJob{}, "", ""},
		{"unknown top-level field", `{"nam":"x"}`, &jobs.CreateJob{}, "Cannot find field: nam in message jobs.CreateJob", CodeInvalidParameter},
		{"unknown field in a list", `{"tasks":[{"task_key":"a"},{"task_kee":"b"}]}`, &jobs.CreateJob{}, "tasks[1]", CodeInvalidParameter},
		{"unknown field in a map value", `{"name":"m","tags":[{"key":"k","value":"v","extra":1}]}`, &ml.CreateModelRequest{}, "extra", CodeInvalidParameter},
		{"wrong type", `{"max_concurrent_runs":"many"}`, &jobs.CreateJob{}, "Expected an integer for field 'max_concurrent_runs'", CodeMalformed},
		{"quoted integer", `{"max_concurrent_runs":"2"}`, &jobs.CreateJob{}, "", ""},
		{"number for a string", `{"name":1}`, &jobs.CreateJob{}, "Expected a string for field 'name'", CodeMalformed},
		{"string for a bool", `{"config":{"served_entities":[{"scale_to_zero_enabled":"yes"}]}}`, &serving.CreateServingEndpoint{}, "Expected a boolean for field 'config.served_entities[0].scale_to_zero_enabled'", CodeMalformed},
		{"object for a list", `{"tasks":{}}`, &jobs.CreateJob{}, "Expected a list for field 'tasks'", CodeMalformed},
		{"null is unset", `{"name":null,"tasks":null}`, &jobs.CreateJob{}, "", ""},
		{"not JSON", `{`, &jobs.CreateJob{}, "failed to parse given JSON", CodeMalformed},
		{"trailing data", `{} {}`, &jobs.CreateJob{}, "trailing data", CodeMalformed},
		{"free-form values are not checked", `{"dataframe_records":[{"anything":1}]}`, &serving.QueryEndpointInput{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := DecodeJSON([]byte(tt.body), tt.into)
			if tt.wantErr == "" {
				require.Nil(t, err)
				return
			}
			require.NotNil(t, err)
			assert.Equal(t, 400, err.Status)
			assert.Equal(t, tt.code, err.Code)
			assert.Contains(t, err.Message, tt.wantErr)
		})
	}
	var req serving.CreateServingEndpoint
	require.Nil(t, DecodeJSON([]byte(tests[0].body), &req))
	assert.Equal(t, 100, req.Config.TrafficConfig.Routes[0].TrafficPercentage)
}

func TestDecodeQuery(t *testing.T) {
	var req ml.SearchModelVersionsRequest
	r := httptest.NewRequest("GET", "/x?filter=name%3D%27a%27&max_results=5&order_by=name&order_by=version_number+DESC", nil)
	require.Nil(t, DecodeQuery(r, &req))
	assert.Equal(t, "name='a'", req.Filter)
	assert.Equal(t, int64(5), req.MaxResults)
	assert.Equal(t, []string{"name", "version_number DESC"}, req.OrderBy)

	var runs jobs.ListRunsRequest
	require.Nil(t, DecodeQuery(httptest.NewRequest("GET", "/x?active_only=true&job_id=7", nil), &runs))
	assert.True(t, runs.ActiveOnly)
	assert.Equal(t, int64(7), runs.JobId)

	bad := []string{"/x?job_id=seven", "/x?active_only=maybe", "/x?unknown=1"}
	for _, u := range bad {
		var req jobs.ListRunsRequest
		err := DecodeQuery(httptest.NewRequest("GET", u, nil), &req)
		require.NotNil(t, err, u)
		assert.Equal(t, CodeInvalidParameter, err.Code)
	}
	var exp struct {
		Path string `url:"path"`
	}
	require.Nil(t, DecodeQuery(httptest.NewRequest("GET", "/x?path=/a&direct_download=true", nil), &exp, "direct_download"))
}
