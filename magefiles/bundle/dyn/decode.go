package dyn

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
)

// Decode fills out (a non-nil pointer) from v by walking v against out's Go
// type and its json tags, so every problem carries the location of the
// value that caused it: unknown fields (with a "did you mean" suggestion),
// wrong types, values outside an SDK enum and missing required fields.
//
// It returns v normalized to the Go type: strings that hold numbers or
// booleans become numbers or booleans where the type asks for them (values
// produced by interpolation are strings), nulls are dropped. That is the
// shape printed as the resolved configuration.
//
// Conversions follow the Databricks CLI's normalization: a string field
// accepts a number or boolean (formatted), an int field accepts a string
// that parses as an integer, a bool field accepts "true" or "false".
//
// A field is required when its json tag lacks omitempty, which is how the
// SDK's generated types mark required request fields. Zero values written
// explicitly for omitempty fields are recorded in ForceSendFields so the
// SDK sends them (scale_to_zero_enabled: false must reach the API).
func Decode(v Value, out any, at Path) (Value, diag.Diagnostics) {
	return DecodeWith(v, out, at, DecodeOptions{})
}

// DecodeOptions relax Decode for early checks of configuration that is not
// complete yet.
type DecodeOptions struct {
	// AllowReferences accepts a string holding a ${...} reference wherever
	// a value of another type is expected: it will be replaced later. The
	// Go field is left at its zero value.
	AllowReferences bool
	// Partial skips the required-field check, for target overrides that
	// only name the fields they change.
	Partial bool
	// KeepNulls keeps explicit nulls in the decoded value (they clear a
	// setting when a target is merged) instead of leaving them out.
	KeepNulls bool
	// Grade gives each kind of problem its severity; nil makes every
	// problem an error. Whatever the severity, an unknown field and a
	// value of the wrong type are left out of the decoded value, and a
	// value outside an enum is kept unless it is an error.
	Grade func(Problem) diag.Severity
}

// Problem is a kind of decoding problem, so a caller can grade each kind
// the way the tool it mirrors does.
type Problem int

const (
	// UnknownField is a key the type does not define.
	UnknownField Problem = iota + 1
	// WrongType is a value of another kind than the field's (a map for a
	// string, text that is not a number for an int).
	WrongType
	// InvalidEnum is a string outside an SDK enum's values.
	InvalidEnum
	// MissingRequired is a required field (no omitempty) left out.
	MissingRequired
)

func (d *decoder) severity(p Problem) diag.Severity {
	if d.opts.Grade == nil {
		return diag.Error
	}
	return d.opts.Grade(p)
}

// DecodeWith is Decode with options.
func DecodeWith(v Value, out any, at Path, opts DecodeOptions) (Value, diag.Diagnostics) {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("dyn.Decode: out must be a non-nil pointer")
	}
	d := &decoder{opts: opts}
	nv := d.value(v, rv.Elem(), at)
	return nv, d.diags
}

type decoder struct {
	opts  DecodeOptions
	diags diag.Diagnostics
}

// HasReference reports whether s contains a ${...} reference.
func HasReference(s string) bool {
	i := strings.Index(s, "${")
	return i >= 0 && strings.IndexByte(s[i:], '}') > 0
}

// errorf reports a value of the wrong type (or one that cannot be decoded
// at all), graded as WrongType.
func (d *decoder) errorf(v Value, at Path, format string, args ...any) {
	d.problem(WrongType, v.Location(), at, format, args...)
}

func (d *decoder) problem(p Problem, loc diag.Location, at Path, format string, args ...any) {
	d.diags = d.diags.Append(diag.Diagnostic{
		Severity:  d.severity(p),
		Summary:   fmt.Sprintf(format, args...),
		Locations: []diag.Location{loc},
		Paths:     []string{at.String()},
	})
}

var (
	rawMessageType = reflect.TypeOf(json.RawMessage(nil))
	unmarshalerT   = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
)

func (d *decoder) value(v Value, rv reflect.Value, at Path) Value {
	if !v.IsValid() {
		return InvalidValue
	}
	if v.Kind() == KindNil {
		if !d.opts.KeepNulls {
			return InvalidValue
		}
		// A null for a scalar is the CLI's "expected a string value,
		// found null" warning (normalize.go) and is left out; a null
		// block, list or map stays (it clears a setting when merged).
		t := rv.Type()
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if isBasic(t.Kind()) {
			d.problem(WrongType, v.Location(), at, "expected a %s value, found null", scalarName(t.Kind()))
			return InvalidValue
		}
		return v
	}
	t := rv.Type()
	if d.opts.AllowReferences && v.Kind() == KindString && HasReference(v.str) && t.Kind() != reflect.String && t.Kind() != reflect.Interface {
		return v
	}
	switch {
	case t == rawMessageType:
		raw, err := v.MarshalJSON()
		if err != nil {
			d.errorf(v, at, "cannot encode value: %v", err)
			return InvalidValue
		}
		rv.SetBytes(raw)
		return v
	case t.Kind() == reflect.Interface:
		if t.NumMethod() != 0 {
			d.errorf(v, at, "cannot decode into %s", t)
			return InvalidValue
		}
		rv.Set(reflect.ValueOf(v.Interface()))
		return v
	case t.Kind() == reflect.Pointer:
		if rv.IsNil() {
			rv.Set(reflect.New(t.Elem()))
		}
		return d.value(v, rv.Elem(), at)
	case t.Kind() == reflect.Struct && opaqueStruct(t):
		return d.viaJSON(v, rv, at)
	}

	switch t.Kind() {
	case reflect.Struct:
		return d.structValue(v, rv, at)
	case reflect.Map:
		return d.mapValue(v, rv, at)
	case reflect.Slice:
		return d.sliceValue(v, rv, at)
	case reflect.String:
		return d.stringValue(v, rv, at)
	case reflect.Bool:
		return d.boolValue(v, rv, at)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return d.intValue(v, rv, at)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return d.uintValue(v, rv, at)
	case reflect.Float32, reflect.Float64:
		return d.floatValue(v, rv, at)
	}
	d.errorf(v, at, "cannot decode into %s", t)
	return InvalidValue
}

// opaqueStruct reports structs that define their own JSON form and have no
// tagged fields to walk, such as time.Time or the SDK's field masks.
func opaqueStruct(t reflect.Type) bool {
	if !reflect.PointerTo(t).Implements(unmarshalerT) {
		return false
	}
	return len(infoOf(t).fields) == 0
}

func (d *decoder) viaJSON(v Value, rv reflect.Value, at Path) Value {
	raw, err := v.MarshalJSON()
	if err == nil {
		err = json.Unmarshal(raw, rv.Addr().Interface())
	}
	if err != nil {
		d.errorf(v, at, "invalid value for %s: %v", rv.Type(), err)
		return InvalidValue
	}
	return v
}

func (d *decoder) structValue(v Value, rv reflect.Value, at Path) Value {
	m, ok := v.AsMap()
	if !ok {
		d.errorf(v, at, "expected a map, found %s", describe(v))
		return InvalidValue
	}
	info := infoOf(rv.Type())
	out := NewMapping()
	seen := make(map[string]bool, m.Len())
	for _, p := range m.Pairs() {
		name := p.Key.str
		f, ok := info.fields[name]
		if !ok && anchorHolder(p.Value) {
			continue // kept only for its anchors: dropped, not reported
		}
		if !ok {
			summary := fmt.Sprintf("unknown field %q", name)
			if s := Suggest(name, info.names); s != "" {
				summary += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.problem(UnknownField, p.Key.loc, at.Key(name), "%s", summary)
			continue
		}
		seen[name] = true
		fv := fieldByIndex(rv, f.index)
		nv := d.value(p.Value, fv, at.Key(name))
		if !nv.IsValid() {
			continue
		}
		out.Set(p.Key, nv)
		if f.omitempty && f.force != nil && fv.IsZero() && isBasic(fv.Kind()) {
			fs := fieldByIndex(rv, f.force)
			fs.Set(reflect.Append(fs, reflect.ValueOf(f.goName)))
		}
	}
	for _, name := range info.required {
		if seen[name] || d.opts.Partial {
			continue
		}
		d.problem(MissingRequired, v.Location(), at.Key(name), "missing required field %q", name)
	}
	return Map(out, v.Location())
}

// fieldByIndex walks embedded structs, allocating embedded pointers.
func fieldByIndex(rv reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				rv.Set(reflect.New(rv.Type().Elem()))
			}
			rv = rv.Elem()
		}
		rv = rv.Field(x)
	}
	return rv
}

func scalarName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Float32, reflect.Float64:
		return "float"
	}
	return "int"
}

func isBasic(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

func (d *decoder) mapValue(v Value, rv reflect.Value, at Path) Value {
	m, ok := v.AsMap()
	if !ok {
		d.errorf(v, at, "expected a map, found %s", describe(v))
		return InvalidValue
	}
	t := rv.Type()
	if t.Key().Kind() != reflect.String {
		d.errorf(v, at, "cannot decode into %s", t)
		return InvalidValue
	}
	if rv.IsNil() {
		rv.Set(reflect.MakeMapWithSize(t, m.Len()))
	}
	out := NewMapping()
	for _, p := range m.Pairs() {
		ev := reflect.New(t.Elem()).Elem()
		nv := d.value(p.Value, ev, at.Key(p.Key.str))
		if !nv.IsValid() {
			continue
		}
		rv.SetMapIndex(reflect.ValueOf(p.Key.str).Convert(t.Key()), ev)
		out.Set(p.Key, nv)
	}
	return Map(out, v.Location())
}

func (d *decoder) sliceValue(v Value, rv reflect.Value, at Path) Value {
	items, ok := v.AsSeq()
	if !ok {
		d.errorf(v, at, "expected a sequence, found %s", describe(v))
		return InvalidValue
	}
	t := rv.Type()
	s := reflect.MakeSlice(t, 0, len(items))
	out := make([]Value, 0, len(items))
	for i, item := range items {
		ev := reflect.New(t.Elem()).Elem()
		nv := d.value(item, ev, at.Index(i))
		if !nv.IsValid() {
			continue
		}
		s = reflect.Append(s, ev)
		out = append(out, nv)
	}
	rv.Set(s)
	return Seq(out, v.Location())
}

func (d *decoder) stringValue(v Value, rv reflect.Value, at Path) Value {
	s, ok := v.Text()
	if !ok || v.Kind() == KindNil {
		d.errorf(v, at, "expected a string, found %s", describe(v))
		return InvalidValue
	}
	rv.SetString(s)
	if d.opts.AllowReferences && HasReference(s) {
		return String(s, v.Location())
	}
	if msg := checkEnum(rv); msg != "" {
		d.problem(InvalidEnum, v.Location(), at, "invalid value for %s: %s", lastKey(at), msg)
		if d.severity(InvalidEnum) == diag.Error {
			return InvalidValue
		}
	}
	return String(s, v.Location())
}

// checkEnum validates SDK enum types, which have a Set(string) error method
// that accepts only the allowed values.
func checkEnum(rv reflect.Value) string {
	if rv.Type().PkgPath() == "" || !rv.CanAddr() {
		return ""
	}
	m := rv.Addr().MethodByName("Set")
	if !m.IsValid() || m.Type().NumIn() != 1 || m.Type().In(0).Kind() != reflect.String || m.Type().NumOut() != 1 {
		return ""
	}
	probe := reflect.New(rv.Type())
	res := probe.MethodByName("Set").Call([]reflect.Value{reflect.ValueOf(rv.String())})
	if err, _ := res[0].Interface().(error); err != nil {
		return err.Error()
	}
	return ""
}

func lastKey(p Path) string {
	for i := len(p) - 1; i >= 0; i-- {
		if !p[i].isIdx {
			return p[i].key
		}
	}
	return "value"
}

func (d *decoder) boolValue(v Value, rv reflect.Value, at Path) Value {
	switch v.Kind() {
	case KindBool:
		rv.SetBool(v.b)
		return v
	case KindString:
		switch v.str {
		case "true":
			rv.SetBool(true)
			return Bool(true, v.loc)
		case "false":
			rv.SetBool(false)
			return Bool(false, v.loc)
		}
	}
	d.errorf(v, at, "expected a bool, found %s", describe(v))
	return InvalidValue
}

func (d *decoder) intValue(v Value, rv reflect.Value, at Path) Value {
	var n int64
	switch v.Kind() {
	case KindInt:
		n = v.i
	case KindFloat:
		if v.f != math.Trunc(v.f) || math.Abs(v.f) > 1<<62 {
			d.errorf(v, at, "expected an integer, found %s", describe(v))
			return InvalidValue
		}
		n = int64(v.f)
	case KindString:
		parsed, err := strconv.ParseInt(strings.TrimSpace(v.str), 10, 64)
		if err != nil {
			d.errorf(v, at, "expected an integer, found %s", describe(v))
			return InvalidValue
		}
		n = parsed
	default:
		d.errorf(v, at, "expected an integer, found %s", describe(v))
		return InvalidValue
	}
	if rv.OverflowInt(n) {
		d.errorf(v, at, "integer %d is out of range for %s", n, rv.Type())
		return InvalidValue
	}
	rv.SetInt(n)
	return Int(n, v.loc)
}

func (d *decoder) uintValue(v Value, rv reflect.Value, at Path) Value {
	nv := d.intValue(v, reflect.New(reflect.TypeOf(int64(0))).Elem(), at)
	if !nv.IsValid() {
		return nv
	}
	if nv.i < 0 || rv.OverflowUint(uint64(nv.i)) {
		d.errorf(v, at, "integer %d is out of range for %s", nv.i, rv.Type())
		return InvalidValue
	}
	rv.SetUint(uint64(nv.i))
	return nv
}

func (d *decoder) floatValue(v Value, rv reflect.Value, at Path) Value {
	var f float64
	switch v.Kind() {
	case KindInt:
		f = float64(v.i)
	case KindFloat:
		f = v.f
	case KindString:
		parsed, err := strconv.ParseFloat(strings.TrimSpace(v.str), 64)
		if err != nil {
			d.errorf(v, at, "expected a number, found %s", describe(v))
			return InvalidValue
		}
		f = parsed
	default:
		d.errorf(v, at, "expected a number, found %s", describe(v))
		return InvalidValue
	}
	if rv.OverflowFloat(f) {
		d.errorf(v, at, "number %g is out of range for %s", f, rv.Type())
		return InvalidValue
	}
	rv.SetFloat(f)
	return Float(f, v.loc)
}

// describe names a value for "found ..." messages, quoting short strings.
func describe(v Value) string {
	switch v.Kind() {
	case KindString:
		if len(v.str) <= 40 {
			return fmt.Sprintf("string %q", v.str)
		}
		return "string"
	case KindInt, KindFloat, KindBool:
		s, _ := v.Text()
		return v.Kind().String() + " " + s
	}
	return v.Kind().String()
}

// typeInfo is the json view of a struct type, computed once per type.
type typeInfo struct {
	fields   map[string]fieldInfo
	names    []string // sorted, for suggestions
	required []string // in declaration order
}

type fieldInfo struct {
	index     []int
	goName    string
	omitempty bool
	// force is the index of the ForceSendFields slice of the struct that
	// declares the field, or nil when it has none.
	force []int
}

var typeInfos sync.Map // reflect.Type -> *typeInfo

func infoOf(t reflect.Type) *typeInfo {
	if cached, ok := typeInfos.Load(t); ok {
		return cached.(*typeInfo)
	}
	info := &typeInfo{fields: map[string]fieldInfo{}}
	collectFields(t, nil, info)
	for name := range info.fields {
		info.names = append(info.names, name)
	}
	sort.Strings(info.names)
	actual, _ := typeInfos.LoadOrStore(t, info)
	return actual.(*typeInfo)
}

func collectFields(t reflect.Type, prefix []int, info *typeInfo) {
	var force []int
	if f, ok := t.FieldByName("ForceSendFields"); ok && len(f.Index) == 1 && f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String {
		force = append(append([]int{}, prefix...), f.Index[0])
	}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, hasTag := sf.Tag.Lookup("json")
		name, opts, _ := strings.Cut(tag, ",")
		if sf.Anonymous && !hasTag {
			et := sf.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				collectFields(et, append(append([]int{}, prefix...), i), info)
				continue
			}
		}
		if !sf.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if _, dup := info.fields[name]; dup {
			// The outer struct's field wins, as in encoding/json.
			continue
		}
		omitempty := strings.Contains(","+opts+",", ",omitempty,")
		info.fields[name] = fieldInfo{
			index:     append(append([]int{}, prefix...), i),
			goName:    sf.Name,
			omitempty: omitempty,
			force:     force,
		}
		if !omitempty && !strings.Contains(","+opts+",", ",optional,") {
			info.required = append(info.required, name)
		}
	}
}

// FieldNames lists the json names a struct type accepts, sorted.
func FieldNames(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return append([]string(nil), infoOf(t).names...)
}
