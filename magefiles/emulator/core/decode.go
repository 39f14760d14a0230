package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// MaxBody bounds a request body (the workspace import limit is 10 MB of
// base64; allow for the encoding).
const MaxBody = 16 << 20

// ReadBody reads the request body within MaxBody.
func ReadBody(r *http.Request) ([]byte, *Error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, NewError(http.StatusBadRequest, CodeBadRequest, "reading request body: %v", err)
	}
	if len(body) > MaxBody {
		return nil, NewError(http.StatusRequestEntityTooLarge, CodeBadRequest, "request body exceeds %d bytes", MaxBody)
	}
	return body, nil
}

// DecodeBody decodes a JSON request body into v (an SDK request struct),
// rejecting fields the struct does not have, as the service's proto parser
// does: a typo in a client's field name fails loudly instead of being dropped.
// The SDK structs have their own UnmarshalJSON (for ForceSendFields), which
// bypasses json.Decoder.DisallowUnknownFields, so the check walks the types.
func DecodeBody(r *http.Request, v any) *Error {
	body, aerr := ReadBody(r)
	if aerr != nil {
		return aerr
	}
	return DecodeJSON(body, v)
}

func DecodeJSON(body []byte, v any) *Error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return Malformed("Invalid JSON given in the body of the request - failed to parse given JSON")
	}
	if dec.More() {
		return Malformed("Invalid JSON given in the body of the request - failed to parse given JSON (trailing data after the object)")
	}
	if err := CheckFields(generic, reflect.TypeOf(v), ""); err != nil {
		return err
	}
	// Re-encode: CheckFields turned quoted numbers into numbers.
	body, err := json.Marshal(generic)
	if err != nil {
		return Malformed("Could not parse request object: %v", err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return Malformed("Could not parse request object: %v", err)
	}
	return nil
}

// fieldsCache maps a struct type to its JSON field names and types.
var fieldsCache sync.Map // reflect.Type -> map[string]reflect.Type

var rawMessageType = reflect.TypeOf(json.RawMessage{})

func jsonFields(t reflect.Type) map[string]reflect.Type {
	if cached, ok := fieldsCache.Load(t); ok {
		return cached.(map[string]reflect.Type)
	}
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					fields[k] = v
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	fieldsCache.Store(t, fields)
	return fields
}

// CheckFields walks a decoded JSON value against a Go type and reports the
// first object key the type has no field for.
func CheckFields(v any, t reflect.Type, at string) *Error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType {
		return nil
	}
	if v == nil {
		return nil // null leaves the field unset
	}
	if err := checkType(v, t, at); err != nil {
		return err
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		fields := jsonFields(t)
		for key, val := range obj {
			ft, ok := fields[key]
			if !ok {
				where := t.String()
				if at != "" {
					where += " at " + at
				}
				return InvalidParam("Invalid JSON given in the body of the request - Cannot find field: %s in message %s", key, where)
			}
			if err := CheckFields(val, ft, join(at, key)); err != nil {
				return err
			}
			obj[key] = unquoteNumber(val, ft)
		}
	case reflect.Slice, reflect.Array:
		list, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, e := range list {
			if err := CheckFields(e, t.Elem(), fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
			list[i] = unquoteNumber(e, t.Elem())
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for k, e := range obj {
			if err := CheckFields(e, t.Elem(), join(at, k)); err != nil {
				return err
			}
			obj[k] = unquoteNumber(e, t.Elem())
		}
	}
	return nil
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

// DecodeQuery fills v (an SDK request struct with `url` tags) from the query
// string. Unknown parameters are rejected like unknown body fields; extra
// names are parameters a route accepts beyond the struct (the SDK's
// Workspace.Download sends direct_download, for one).
func DecodeQuery(r *http.Request, v any, extra ...string) *Error {
	rv := reflect.ValueOf(v).Elem()
	rt := rv.Type()
	byName := map[string]int{}
	for i := 0; i < rt.NumField(); i++ {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("url"), ",")
		if name != "" && name != "-" {
			byName[name] = i
		}
	}
	for key, values := range r.URL.Query() {
		idx, ok := byName[key]
		if !ok {
			if slices.Contains(extra, key) {
				continue
			}
			return InvalidParam("Unknown query parameter %q for %s", key, rt.String())
		}
		if err := setField(rv.Field(idx), values); err != nil {
			return InvalidParam("Invalid value for query parameter %q: %v", key, err)
		}
	}
	return nil
}

func setField(f reflect.Value, values []string) error {
	if len(values) == 0 {
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(values[0])
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(values[0], 10, 64)
		if err != nil {
			return err
		}
		f.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(values[0])
		if err != nil {
			return err
		}
		f.SetBool(b)
	case reflect.Float64:
		x, err := strconv.ParseFloat(values[0], 64)
		if err != nil {
			return err
		}
		f.SetFloat(x)
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported list type %s", f.Type())
		}
		s := reflect.MakeSlice(f.Type(), len(values), len(values))
		for i, val := range values {
			s.Index(i).SetString(val)
		}
		f.Set(s)
	default:
		return fmt.Errorf("unsupported type %s", f.Type())
	}
	return nil
}

// checkType refuses a JSON value of the wrong kind for its field, naming
// the field, as the service's parser does. The SDK's own decoding would let
// some through: it retries a failed value as a quoted string, so
// "entity_version": 1 became "1". Integers may come quoted, as proto JSON
// allows (the serving docs' examples send "traffic_percentage": "90").
func checkType(v any, t reflect.Type, at string) *Error {
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
	return Malformed("Could not parse request object: Expected %s for field '%s', got '%s' instead.", want, at, raw)
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

// Malformed is the service's 400 MALFORMED_REQUEST for a body it cannot
// parse into the request.
func Malformed(format string, args ...any) *Error {
	return NewError(http.StatusBadRequest, CodeMalformed, format, args...)
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

// Convert copies between SDK structs with the same JSON fields (a job's
// settings from its create request, a run as the shorter list entry).
func Convert(from, to any) error {
	raw, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, to)
}
