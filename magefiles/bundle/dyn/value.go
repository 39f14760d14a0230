// Package dyn is a dynamic configuration tree in which every value remembers
// where it came from (file, line, column). The bundle loader reads YAML into
// it, merges targets, interpolates references and finally decodes it into
// typed Go structs, so any check at any stage can point at the exact line.
//
// Values are immutable in practice: the functions that change a tree (Set,
// Merge, Transform) return new values and share unchanged subtrees.
package dyn

import (
	"fmt"
	"math"
	"strconv"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
)

// Kind is the type of a Value.
type Kind uint8

const (
	// KindInvalid is the zero Value: "not there". It differs from an explicit
	// YAML null, which is KindNil.
	KindInvalid Kind = iota
	KindNil
	KindMap
	KindSeq
	KindString
	KindBool
	KindInt
	KindFloat
)

// String names the kind the way diagnostics do ("expected map, found string").
func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindNil:
		return "nil"
	case KindMap:
		return "map"
	case KindSeq:
		return "sequence"
	case KindString:
		return "string"
	case KindBool:
		return "bool"
	case KindInt:
		return "int"
	case KindFloat:
		return "float"
	default:
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Value is one node of the tree.
type Value struct {
	kind Kind
	str  string
	b    bool
	i    int64
	f    float64
	m    *Mapping
	seq  []Value
	loc  diag.Location
	// anchor marks a YAML node that defines an anchor (&name), which a
	// file may keep under a key of its own only to reuse it elsewhere.
	anchor bool
}

// IsAnchor reports whether the value was written with a YAML anchor.
func (v Value) IsAnchor() bool { return v.anchor }

// anchorHolder reports whether v only holds anchors for reuse: an anchor
// itself, or a sequence or map whose every element is one. The CLI's
// normalization does not warn about such a value under an unknown key
// (libs/dyn/convert/normalize.go, isAnchorContainer).
func anchorHolder(v Value) bool {
	if v.anchor {
		return true
	}
	switch v.kind {
	case KindSeq:
		for _, item := range v.seq {
			if !item.anchor {
				return false
			}
		}
		return len(v.seq) > 0
	case KindMap:
		if v.m == nil || v.m.Len() == 0 {
			return false
		}
		for _, p := range v.m.Pairs() {
			if !p.Value.anchor {
				return false
			}
		}
		return true
	}
	return false
}

// InvalidValue is the zero Value.
var InvalidValue = Value{}

// Nil returns a null at loc.
func Nil(loc diag.Location) Value { return Value{kind: KindNil, loc: loc} }

// String returns a string value.
func String(s string, loc diag.Location) Value { return Value{kind: KindString, str: s, loc: loc} }

// Bool returns a bool value.
func Bool(b bool, loc diag.Location) Value { return Value{kind: KindBool, b: b, loc: loc} }

// Int returns an integer value.
func Int(i int64, loc diag.Location) Value { return Value{kind: KindInt, i: i, loc: loc} }

// Float returns a floating point value.
func Float(f float64, loc diag.Location) Value { return Value{kind: KindFloat, f: f, loc: loc} }

// Map returns a mapping value; m may be nil for an empty mapping.
func Map(m *Mapping, loc diag.Location) Value {
	if m == nil {
		m = NewMapping()
	}
	return Value{kind: KindMap, m: m, loc: loc}
}

// Seq returns a sequence value.
func Seq(items []Value, loc diag.Location) Value {
	if items == nil {
		items = []Value{}
	}
	return Value{kind: KindSeq, seq: items, loc: loc}
}

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsValid reports whether v is present (explicit nulls are present).
func (v Value) IsValid() bool { return v.kind != KindInvalid }

// Location returns where the value was written.
func (v Value) Location() diag.Location { return v.loc }

// WithLocation returns v moved to loc.
func (v Value) WithLocation(loc diag.Location) Value {
	v.loc = loc
	return v
}

// AsString returns the string and whether v is a string.
func (v Value) AsString() (string, bool) { return v.str, v.kind == KindString }

// AsBool returns the bool and whether v is a bool.
func (v Value) AsBool() (bool, bool) { return v.b, v.kind == KindBool }

// AsInt returns the integer and whether v is an int.
func (v Value) AsInt() (int64, bool) { return v.i, v.kind == KindInt }

// AsFloat returns the float and whether v is a float.
func (v Value) AsFloat() (float64, bool) { return v.f, v.kind == KindFloat }

// AsMap returns the mapping and whether v is a map.
func (v Value) AsMap() (*Mapping, bool) { return v.m, v.kind == KindMap }

// AsSeq returns the items and whether v is a sequence. The slice must not be
// modified.
func (v Value) AsSeq() ([]Value, bool) { return v.seq, v.kind == KindSeq }

// MustString returns the string or "".
func (v Value) MustString() string { return v.str }

// IsScalar reports whether v is a string, bool, int or float.
func (v Value) IsScalar() bool {
	switch v.kind {
	case KindString, KindBool, KindInt, KindFloat:
		return true
	}
	return false
}

// Text renders a scalar the way it reads in a string interpolation.
func (v Value) Text() (string, bool) {
	switch v.kind {
	case KindString:
		return v.str, true
	case KindBool:
		return strconv.FormatBool(v.b), true
	case KindInt:
		return strconv.FormatInt(v.i, 10), true
	case KindFloat:
		return formatFloat(v.f), true
	case KindNil:
		return "", true
	}
	return "", false
}

func formatFloat(f float64) string {
	if math.IsInf(f, 1) {
		return ".inf"
	}
	if math.IsInf(f, -1) {
		return "-.inf"
	}
	if math.IsNaN(f) {
		return ".nan"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Get returns the value at key in a map, or InvalidValue.
func (v Value) Get(key string) Value {
	if v.kind != KindMap {
		return InvalidValue
	}
	out, _ := v.m.Get(key)
	return out
}

// Index returns item i of a sequence, or InvalidValue.
func (v Value) Index(i int) Value {
	if v.kind != KindSeq || i < 0 || i >= len(v.seq) {
		return InvalidValue
	}
	return v.seq[i]
}

// Interface converts v to plain Go values: map[string]any, []any, string,
// bool, int64, float64 or nil.
func (v Value) Interface() any {
	switch v.kind {
	case KindMap:
		out := make(map[string]any, v.m.Len())
		for _, p := range v.m.pairs {
			out[p.Key.str] = p.Value.Interface()
		}
		return out
	case KindSeq:
		out := make([]any, len(v.seq))
		for i, item := range v.seq {
			out[i] = item.Interface()
		}
		return out
	case KindString:
		return v.str
	case KindBool:
		return v.b
	case KindInt:
		return v.i
	case KindFloat:
		return v.f
	}
	return nil
}

// GoString is for debugging.
func (v Value) GoString() string {
	return fmt.Sprintf("dyn.Value{%s %v @%s}", v.kind, v.Interface(), v.loc)
}

// Pair is one entry of a Mapping. The key keeps its own location.
type Pair struct {
	Key   Value
	Value Value
}

// Mapping is an insertion-ordered map from string keys to values.
type Mapping struct {
	pairs []Pair
	index map[string]int
}

// NewMapping returns an empty mapping.
func NewMapping() *Mapping { return &Mapping{index: map[string]int{}} }

// Len returns the number of entries.
func (m *Mapping) Len() int {
	if m == nil {
		return 0
	}
	return len(m.pairs)
}

// Pairs returns the entries in order. The slice must not be modified.
func (m *Mapping) Pairs() []Pair {
	if m == nil {
		return nil
	}
	return m.pairs
}

// Keys returns the keys in order.
func (m *Mapping) Keys() []string {
	out := make([]string, 0, m.Len())
	for _, p := range m.Pairs() {
		out = append(out, p.Key.str)
	}
	return out
}

// Get returns the value for key.
func (m *Mapping) Get(key string) (Value, bool) {
	if m == nil {
		return InvalidValue, false
	}
	i, ok := m.index[key]
	if !ok {
		return InvalidValue, false
	}
	return m.pairs[i].Value, true
}

// GetPair returns the entry for key, including the key's location.
func (m *Mapping) GetPair(key string) (Pair, bool) {
	if m == nil {
		return Pair{}, false
	}
	i, ok := m.index[key]
	if !ok {
		return Pair{}, false
	}
	return m.pairs[i], true
}

// Set inserts or replaces key (in place). Replacing keeps the entry's
// position and the key's original location.
func (m *Mapping) Set(key Value, v Value) {
	if i, ok := m.index[key.str]; ok {
		m.pairs[i].Value = v
		return
	}
	m.index[key.str] = len(m.pairs)
	m.pairs = append(m.pairs, Pair{Key: key, Value: v})
}

// SetString is Set with a key that has no location of its own.
func (m *Mapping) SetString(key string, v Value) {
	m.Set(String(key, v.loc), v)
}

// Delete removes key (in place).
func (m *Mapping) Delete(key string) {
	i, ok := m.index[key]
	if !ok {
		return
	}
	m.pairs = append(m.pairs[:i:i], m.pairs[i+1:]...)
	delete(m.index, key)
	for j := i; j < len(m.pairs); j++ {
		m.index[m.pairs[j].Key.str] = j
	}
}

// Clone returns a shallow copy: new entry list, shared values.
func (m *Mapping) Clone() *Mapping {
	out := &Mapping{pairs: make([]Pair, len(m.Pairs()), len(m.Pairs())+1), index: make(map[string]int, m.Len())}
	copy(out.pairs, m.Pairs())
	for i, p := range out.pairs {
		out.index[p.Key.str] = i
	}
	return out
}
