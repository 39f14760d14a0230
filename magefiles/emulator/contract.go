package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"

	"github.com/databricks/databricks-sdk-go/service/serving"
)

// Behaviours held to the service's public contract (tests/contract cites
// the evidence for each): required fields the SDK marks optional, request
// type checks, error codes, run page URLs, the entity limit and route names.

// scaleToZeroSent reports whether a served entity's request named
// scale_to_zero_enabled. The SDK's decoding lists every scalar JSON field
// present in ForceSendFields, so a false that was sent is told apart from
// one that was left out.
func scaleToZeroSent(e serving.ServedEntityInput) bool {
	return e.ScaleToZeroEnabled || slices.Contains(e.ForceSendFields, "ScaleToZeroEnabled")
}

// errScaleToZeroUndefined is the service's refusal of a served entity
// without scale_to_zero_enabled, as users of the service quote it.
func errScaleToZeroUndefined() *apiError {
	return invalidParam("scaleToZeroEnabled is undefined. Please set it to either true or false.")
}

// existsAt is the workspace API's refusal to import over, or create a
// folder through, an existing object: 400 RESOURCE_ALREADY_EXISTS (the SDK
// maps the code to ErrResourceAlreadyExists whatever the status).
func existsAt(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, codeAlreadyExists, format, args...)
}

// runPageURL is a run's page: <host>/jobs/<job>/runs/<run>?o=<workspace id>.
func (s *Server) runPageURL(job, run int64) string {
	return fmt.Sprintf("%s/jobs/%d/runs/%d?o=%d", s.url, job, run, s.WorkspaceID())
}

// checkType refuses a JSON value of the wrong kind for its field, naming
// the field, as the service's parser does. The SDK's own decoding would let
// some through: it retries a failed value as a quoted string, so
// "entity_version": 1 became "1". Integers may come quoted, as proto JSON
// allows (the serving docs' examples send "traffic_percentage": "90").
func checkType(v any, t reflect.Type, at string) *apiError {
	want := ""
	switch t.Kind() {
	case reflect.String:
		if _, ok := v.(string); !ok {
			want = "a string"
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			want = "a boolean"
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if !isNumber(v, true) {
			want = "an integer"
		}
	case reflect.Float32, reflect.Float64:
		if !isNumber(v, false) {
			want = "a number"
		}
	case reflect.Struct, reflect.Map:
		if t == rawMessageType {
			return nil
		}
		if _, ok := v.(map[string]any); !ok {
			want = "an object"
		}
	case reflect.Slice, reflect.Array:
		if t == rawMessageType {
			return nil
		}
		if _, ok := v.([]any); !ok {
			want = "a list"
		}
	}
	if want == "" {
		return nil
	}
	raw, _ := json.Marshal(v)
	return malformed("Could not parse request object: Expected %s for field '%s', got '%s' instead.", want, at, raw)
}

func isNumber(v any, integer bool) bool {
	var s string
	switch n := v.(type) {
	case json.Number:
		s = n.String()
	case string:
		s = n
	default:
		return false
	}
	if integer {
		_, err := strconv.ParseInt(s, 10, 64)
		return err == nil
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// malformed is the service's 400 MALFORMED_REQUEST for a body it cannot
// parse into the request.
func malformed(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, codeMalformed, format, args...)
}

// unquoteNumber turns a quoted number for a numeric field into a number,
// which the SDK's decoding would refuse. checkType has accepted it.
func unquoteNumber(v any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s, ok := v.(string)
	if !ok {
		return v
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return json.Number(s)
	}
	return v
}

// maxServedEntities is how many served entities one endpoint config may
// hold.
const maxServedEntities = 15

func errTooManyEntities(n int) *apiError {
	return invalidParam("An endpoint can serve at most %d entities; the config has %d.", maxServedEntities, n)
}

// renderEndpoint is the endpoint as the API answers it: with
// Options.RoutesByModelName, routes name their entity by served_model_name
// only.
func (s *Server) renderEndpoint(ep *endpointRec) serving.ServingEndpointDetailed {
	out := ep.render()
	if !s.opts.RoutesByModelName {
		return out
	}
	strip := func(tc *serving.TrafficConfig) {
		if tc == nil {
			return
		}
		for i := range tc.Routes {
			tc.Routes[i].ServedEntityName = ""
		}
	}
	if out.Config != nil {
		strip(out.Config.TrafficConfig)
	}
	if out.PendingConfig != nil {
		strip(out.PendingConfig.TrafficConfig)
	}
	return out
}
