package dyn

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
)

// Component is one step of a Path: a map key or a sequence index.
type Component struct {
	key   string
	index int
	isIdx bool
}

// Key returns a map-key component.
func Key(k string) Component { return Component{key: k} }

// Index returns a sequence-index component.
func Index(i int) Component { return Component{index: i, isIdx: true} }

// IsIndex reports whether c is a sequence index.
func (c Component) IsIndex() bool { return c.isIdx }

// KeyName returns the key of a map-key component.
func (c Component) KeyName() string { return c.key }

// IndexValue returns the index of an index component.
func (c Component) IndexValue() int { return c.index }

// Path addresses a value in a tree, such as resources.jobs.train.tasks[0].
type Path []Component

// NewPath builds a path of map keys.
func NewPath(keys ...string) Path {
	p := make(Path, len(keys))
	for i, k := range keys {
		p[i] = Key(k)
	}
	return p
}

// Append returns a new path with cs added; p is never modified.
func (p Path) Append(cs ...Component) Path {
	out := make(Path, 0, len(p)+len(cs))
	out = append(out, p...)
	return append(out, cs...)
}

// Key returns p extended by a map key.
func (p Path) Key(k string) Path { return p.Append(Key(k)) }

// Index returns p extended by a sequence index.
func (p Path) Index(i int) Path { return p.Append(Index(i)) }

// HasPrefix reports whether p starts with q.
func (p Path) HasPrefix(q Path) bool {
	if len(q) > len(p) {
		return false
	}
	for i := range q {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// String renders a.b[0].c.
func (p Path) String() string {
	var b strings.Builder
	for i, c := range p {
		if c.isIdx {
			b.WriteString("[")
			b.WriteString(strconv.Itoa(c.index))
			b.WriteString("]")
			continue
		}
		if i > 0 {
			b.WriteString(".")
		}
		b.WriteString(c.key)
	}
	return b.String()
}

// ParsePath parses a.b[0].c. Keys may not contain dots or brackets.
func ParsePath(s string) (Path, error) {
	var p Path
	if s == "" {
		return p, nil
	}
	for _, part := range strings.Split(s, ".") {
		key := part
		rest := ""
		if i := strings.IndexByte(part, '['); i >= 0 {
			key, rest = part[:i], part[i:]
		}
		if key == "" {
			return nil, fmt.Errorf("invalid path %q: empty key", s)
		}
		p = append(p, Key(key))
		for rest != "" {
			end := strings.IndexByte(rest, ']')
			if rest[0] != '[' || end < 0 {
				return nil, fmt.Errorf("invalid path %q: bad index", s)
			}
			n, err := strconv.Atoi(rest[1:end])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("invalid path %q: bad index %q", s, rest[1:end])
			}
			p = append(p, Index(n))
			rest = rest[end+1:]
		}
	}
	return p, nil
}

// MustPath is ParsePath for constant paths.
func MustPath(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// GetPath returns the value at p, or InvalidValue.
func GetPath(v Value, p Path) Value {
	for _, c := range p {
		if c.isIdx {
			v = v.Index(c.index)
		} else {
			v = v.Get(c.key)
		}
		if !v.IsValid() {
			return InvalidValue
		}
	}
	return v
}

// LocationOf returns the location of the value at p, falling back to the
// nearest ancestor that exists, so a diagnostic about a missing field points
// at the block where it should have been.
func LocationOf(v Value, p Path) diag.Location {
	loc := v.Location()
	cur := v
	for _, c := range p {
		if c.isIdx {
			cur = cur.Index(c.index)
		} else {
			cur = cur.Get(c.key)
		}
		if !cur.IsValid() {
			return loc
		}
		loc = cur.Location()
	}
	return loc
}

// SetPath returns a copy of root with the value at p replaced by nv. Missing
// intermediate maps are created; missing sequence items are an error.
func SetPath(root Value, p Path, nv Value) (Value, error) {
	if len(p) == 0 {
		return nv, nil
	}
	c := p[0]
	if c.isIdx {
		items, ok := root.AsSeq()
		if !ok || c.index >= len(items) {
			return root, fmt.Errorf("no item %d at %s", c.index, p)
		}
		child, err := SetPath(items[c.index], p[1:], nv)
		if err != nil {
			return root, err
		}
		out := make([]Value, len(items))
		copy(out, items)
		out[c.index] = child
		return Seq(out, root.loc), nil
	}
	var m *Mapping
	switch root.Kind() {
	case KindMap:
		m = root.m.Clone()
	case KindInvalid, KindNil:
		m = NewMapping()
		if !root.IsValid() {
			root.loc = nv.loc
		}
	default:
		return root, fmt.Errorf("cannot set %s: found %s", p, root.Kind())
	}
	existing, _ := m.Get(c.key)
	child, err := SetPath(existing, p[1:], nv)
	if err != nil {
		return root, err
	}
	if pair, ok := m.GetPair(c.key); ok {
		m.Set(pair.Key, child)
	} else {
		m.Set(String(c.key, child.loc), child)
	}
	return Map(m, root.loc), nil
}
