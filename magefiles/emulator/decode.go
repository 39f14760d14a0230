package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// maxBody bounds a request body (the workspace import limit is 10 MB of
// base64; allow for the encoding).
const maxBody = 16 << 20

// readBody reads the request body within maxBody.
func readBody(r *http.Request) ([]byte, *apiError) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, newError(http.StatusBadRequest, codeBadRequest, "reading request body: %v", err)
	}
	if len(body) > maxBody {
		return nil, newError(http.StatusRequestEntityTooLarge, codeBadRequest, "request body exceeds %d bytes", maxBody)
	}
	return body, nil
}

// decodeBody decodes a JSON request body into v (an SDK request struct),
// rejecting fields the struct does not have, as the service's proto parser
// does: a typo in a client's field name fails loudly instead of being dropped.
// The SDK structs have their own UnmarshalJSON (for ForceSendFields), which
// bypasses json.Decoder.DisallowUnknownFields, so the check walks the types.
func decodeBody(r *http.Request, v any) *apiError {
	body, aerr := readBody(r)
	if aerr != nil {
		return aerr
	}
	return decodeJSON(body, v)
}

func decodeJSON(body []byte, v any) *apiError {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return malformed("Invalid JSON given in the body of the request - failed to parse given JSON")
	}
	if dec.More() {
		return malformed("Invalid JSON given in the body of the request - failed to parse given JSON (trailing data after the object)")
	}
	if err := checkFields(generic, reflect.TypeOf(v), ""); err != nil {
		return err
	}
	// Re-encode: checkFields turned quoted numbers into numbers.
	body, err := json.Marshal(generic)
	if err != nil {
		return malformed("Could not parse request object: %v", err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return malformed("Could not parse request object: %v", err)
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

// checkFields walks a decoded JSON value against a Go type and reports the
// first object key the type has no field for.
func checkFields(v any, t reflect.Type, at string) *apiError {
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
				return invalidParam("Invalid JSON given in the body of the request - Cannot find field: %s in message %s", key, where)
			}
			if err := checkFields(val, ft, join(at, key)); err != nil {
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
			if err := checkFields(e, t.Elem(), fmt.Sprintf("%s[%d]", at, i)); err != nil {
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
			if err := checkFields(e, t.Elem(), join(at, k)); err != nil {
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

// decodeQuery fills v (an SDK request struct with `url` tags) from the query
// string. Unknown parameters are rejected like unknown body fields; extra
// names are parameters a route accepts beyond the struct (the SDK's
// Workspace.Download sends direct_download, for one).
func decodeQuery(r *http.Request, v any, extra ...string) *apiError {
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
			if contains(extra, key) {
				continue
			}
			return invalidParam("Unknown query parameter %q for %s", key, rt.String())
		}
		if err := setField(rv.Field(idx), values); err != nil {
			return invalidParam("Invalid value for query parameter %q: %v", key, err)
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

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
