package emulator

import (
	"net/http"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// Request decoding is shared by every service (package core).

func readBody(r *http.Request) ([]byte, *apiError) { return core.ReadBody(r) }
func decodeBody(r *http.Request, v any) *apiError  { return core.DecodeBody(r, v) }
func decodeJSON(body []byte, v any) *apiError      { return core.DecodeJSON(body, v) }

func decodeQuery(r *http.Request, v any, extra ...string) *apiError {
	return core.DecodeQuery(r, v, extra...)
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
