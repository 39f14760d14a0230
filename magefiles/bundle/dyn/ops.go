package dyn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
)

// Merge overlays b on a, the way bundle targets override the top level:
//   - a missing or null side yields the other side;
//   - maps merge key by key, b winning (a's key order first, then b's new keys);
//   - sequences concatenate (a then b); keyed merges such as job tasks by
//     task_key happen afterwards, in the bundle package;
//   - scalars: b replaces a;
//   - a map meeting a scalar or sequence is an error at both locations.
func Merge(a, b Value, at Path) (Value, diag.Diagnostics) {
	if !a.IsValid() || a.Kind() == KindNil {
		return b, nil
	}
	if !b.IsValid() || b.Kind() == KindNil {
		return a, nil
	}
	switch {
	case a.kind == KindMap && b.kind == KindMap:
		out := a.m.Clone()
		var diags diag.Diagnostics
		for _, p := range b.m.pairs {
			if old, ok := out.Get(p.Key.str); ok {
				merged, ds := Merge(old, p.Value, at.Key(p.Key.str))
				diags = diags.Extend(ds)
				out.Set(p.Key, merged)
				continue
			}
			out.Set(p.Key, p.Value)
		}
		merged := Map(out, a.loc)
		// Two files that each keep anchors under one key (a shared
		// common_permissions) still only hold anchors.
		merged.anchor = a.anchor && b.anchor
		return merged, diags
	case a.kind == KindSeq && b.kind == KindSeq:
		items := make([]Value, 0, len(a.seq)+len(b.seq))
		items = append(items, a.seq...)
		items = append(items, b.seq...)
		return Seq(items, a.loc), nil
	case a.IsScalar() && b.IsScalar():
		return b, nil
	}
	return a, diag.Diagnostics{{
		Severity:  diag.Error,
		Summary:   fmt.Sprintf("cannot override a %s with a %s", a.kind, b.kind),
		Detail:    "A target override must have the same shape as the value it overrides.",
		Locations: []diag.Location{b.loc, a.loc},
		Paths:     []string{at.String()},
	}}
}

// Rewrite visits v depth-first, children before parents, and replaces every
// value with fn's result. Maps and sequences are rebuilt, so v is unchanged.
func Rewrite(v Value, at Path, fn func(Path, Value) Value) Value {
	switch v.kind {
	case KindMap:
		out := &Mapping{pairs: make([]Pair, len(v.m.pairs)), index: make(map[string]int, len(v.m.pairs))}
		for i, p := range v.m.pairs {
			out.pairs[i] = Pair{Key: p.Key, Value: Rewrite(p.Value, at.Key(p.Key.str), fn)}
			out.index[p.Key.str] = i
		}
		v = Map(out, v.loc)
	case KindSeq:
		items := make([]Value, len(v.seq))
		for i, item := range v.seq {
			items[i] = Rewrite(item, at.Index(i), fn)
		}
		v = Seq(items, v.loc)
	}
	return fn(at, v)
}

// Visit calls fn for every value, parents before children. Returning false
// skips a value's children.
func Visit(v Value, at Path, fn func(Path, Value) bool) {
	if !fn(at, v) {
		return
	}
	switch v.kind {
	case KindMap:
		for _, p := range v.m.pairs {
			Visit(p.Value, at.Key(p.Key.str), fn)
		}
	case KindSeq:
		for i, item := range v.seq {
			Visit(item, at.Index(i), fn)
		}
	}
}

// MarshalJSON writes v as JSON with map keys in source order.
func (v Value) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// IndentJSON renders v as indented JSON followed by a newline.
func IndentJSON(v Value) ([]byte, error) {
	raw, err := v.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, v Value) error {
	switch v.kind {
	case KindInvalid, KindNil:
		b.WriteString("null")
	case KindString:
		writeJSONString(b, v.str)
	case KindBool:
		b.WriteString(strconv.FormatBool(v.b))
	case KindInt:
		b.WriteString(strconv.FormatInt(v.i, 10))
	case KindFloat:
		if math.IsInf(v.f, 0) || math.IsNaN(v.f) {
			// JSON has no infinities; keep the YAML spelling as a string.
			writeJSONString(b, formatFloat(v.f))
			return nil
		}
		b.WriteString(strconv.FormatFloat(v.f, 'g', -1, 64))
	case KindSeq:
		b.WriteByte('[')
		for i, item := range v.seq {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, item); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case KindMap:
		b.WriteByte('{')
		for i, p := range v.m.pairs {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, p.Key.str)
			b.WriteByte(':')
			if err := writeJSON(b, p.Value); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("cannot encode %s as JSON", v.kind)
	}
	return nil
}

// writeJSONString writes s as a JSON string without HTML escaping, so a
// version constraint such as ">= 0.230.0" stays readable.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // encoding a string cannot fail
	b.Truncate(b.Len() - 1) // Encode adds a newline
}

// FromGo converts plain Go values (as produced by encoding/json or
// Interface) into a tree with every node at loc.
func FromGo(x any, loc diag.Location) (Value, error) {
	switch t := x.(type) {
	case nil:
		return Nil(loc), nil
	case Value:
		return t, nil
	case string:
		return String(t, loc), nil
	case bool:
		return Bool(t, loc), nil
	case int:
		return Int(int64(t), loc), nil
	case int64:
		return Int(t, loc), nil
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return Int(int64(t), loc), nil
		}
		return Float(t, loc), nil
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return Int(i, loc), nil
		}
		f, err := t.Float64()
		if err != nil {
			return InvalidValue, err
		}
		return Float(f, loc), nil
	case []any:
		items := make([]Value, len(t))
		for i, item := range t {
			v, err := FromGo(item, loc)
			if err != nil {
				return InvalidValue, err
			}
			items[i] = v
		}
		return Seq(items, loc), nil
	case map[string]any:
		m := NewMapping()
		for _, k := range sortedKeys(t) {
			v, err := FromGo(t[k], loc)
			if err != nil {
				return InvalidValue, err
			}
			m.Set(String(k, loc), v)
		}
		return Map(m, loc), nil
	}
	return InvalidValue, fmt.Errorf("unsupported Go value %T", x)
}
