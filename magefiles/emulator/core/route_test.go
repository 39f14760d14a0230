package core

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRouteServeHTTP(t *testing.T) {
	tests := []struct {
		name        string
		out         any
		err         *Error
		status      int
		contentType string
		body        string
	}{
		{"a value is JSON", map[string]int{"n": 1}, nil, http.StatusOK, "application/json", `{"n":1}`},
		{"nil is an empty object", nil, nil, http.StatusOK, "application/json", `{}`},
		{"raw is sent as it is", Raw{ContentType: "application/octet-stream", Body: []byte("bytes")}, nil, http.StatusOK, "application/octet-stream", "bytes"},
		{"an error is the Databricks body", nil, NotFound("Path (/x) doesn't exist."), http.StatusNotFound, "application/json",
			`{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Path (/x) doesn't exist."}`},
		{"an unencodable value is 500", func() {}, nil, http.StatusInternalServerError, "application/json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen string
			rt := Route{Handle: func(r *http.Request) (any, *Error) {
				body, _ := ReadBody(r)
				seen = string(body)
				return tt.out, tt.err
			}}
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"a":1}`)))
			assert.Equal(t, `{"a":1}`, seen, "the handler reads the body")
			assert.Equal(t, tt.status, rec.Code)
			assert.Equal(t, tt.contentType, rec.Header().Get("Content-Type"))
			if tt.body != "" {
				assert.Equal(t, tt.body, rec.Body.String())
			}
		})
	}
}

func TestSequencePersistsItsLastID(t *testing.T) {
	q := NewSequence(1000)
	assert.Equal(t, int64(1001), q.Next())
	raw, err := json.Marshal(struct {
		NextID *Sequence `json:"next_id"`
	}{q})
	require.NoError(t, err)
	assert.JSONEq(t, `{"next_id":1001}`, string(raw))

	var back struct {
		NextID *Sequence `json:"next_id"`
	}
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, int64(1002), back.NextID.Next())
	require.Error(t, json.Unmarshal([]byte(`{"next_id":"x"}`), &back))
}
