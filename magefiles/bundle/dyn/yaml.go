package dyn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
)

// maxNodes bounds how many values one file may expand to, so a small file
// full of nested aliases (a "billion laughs") cannot exhaust memory.
const maxNodes = 200_000

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// FromYAML parses one YAML document. file is the name used in locations
// (relative to the bundle root). An empty document is KindNil. Problems are
// diagnostics at the offending line: syntax errors, several documents in
// one file, duplicate keys, keys that are not scalars.
func FromYAML(file string, data []byte) (Value, diag.Diagnostics) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Nil(diag.Location{File: file, Line: 1, Column: 1}), nil
		}
		return InvalidValue, syntaxError(file, err)
	}
	var diags diag.Diagnostics
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		diags = diags.Append(diag.Diagnostic{
			Severity:  diag.Error,
			Summary:   "a configuration file must hold one YAML document, found a second one",
			Locations: []diag.Location{{File: file, Line: extra.Line, Column: extra.Column}},
		})
	case !errors.Is(err, io.EOF):
		diags = diags.Extend(syntaxError(file, err))
	}
	c := &yamlConv{file: file}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return Nil(diag.Location{File: file, Line: 1, Column: 1}), diags
		}
		root = root.Content[0]
	}
	v := c.convert(root, 0)
	return v, diags.Extend(c.diags)
}

func syntaxError(file string, err error) diag.Diagnostics {
	msg := err.Error()
	loc := diag.Location{File: file, Line: 1}
	// yaml.v3 reports "yaml: line N: message"; keep the line, drop the prefix.
	first, _, _ := strings.Cut(msg, "\n")
	if m := yamlLine.FindStringSubmatch(first); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil {
			loc.Line = n
		}
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(first, "yaml: ")
	}
	return diag.Diagnostics{{
		Severity:  diag.Error,
		Summary:   "invalid YAML: " + msg,
		Locations: []diag.Location{loc},
	}}
}

type yamlConv struct {
	file  string
	nodes int
	diags diag.Diagnostics
	// over is set once the node budget is spent; later nodes become nil
	// without another diagnostic.
	over bool
}

func (c *yamlConv) loc(n *yaml.Node) diag.Location {
	return diag.Location{File: c.file, Line: n.Line, Column: n.Column}
}

func (c *yamlConv) errorf(n *yaml.Node, format string, args ...any) {
	c.diags = c.diags.Append(diag.Diagnostic{
		Severity:  diag.Error,
		Summary:   fmt.Sprintf(format, args...),
		Locations: []diag.Location{c.loc(n)},
	})
}

func (c *yamlConv) convert(n *yaml.Node, depth int) Value {
	v := c.convertNode(n, depth)
	v.anchor = n.Anchor != ""
	return v
}

func (c *yamlConv) convertNode(n *yaml.Node, depth int) Value {
	c.nodes++
	if c.nodes > maxNodes || depth > 1000 {
		if !c.over {
			c.over = true
			c.errorf(n, "YAML document is too large or too deeply nested (aliases expand to more than %d values)", maxNodes)
		}
		return Nil(c.loc(n))
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return Nil(c.loc(n))
		}
		return c.convert(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return Nil(c.loc(n))
		}
		// The value reads as if written at the alias, which is where a
		// reader looks when a diagnostic points at it.
		return relocate(c.convert(n.Alias, depth+1), c.loc(n))
	case yaml.SequenceNode:
		items := make([]Value, 0, len(n.Content))
		for _, item := range n.Content {
			items = append(items, c.convert(item, depth+1))
		}
		return Seq(items, c.loc(n))
	case yaml.MappingNode:
		return c.mapping(n, depth)
	case yaml.ScalarNode:
		return c.scalar(n)
	}
	c.errorf(n, "unsupported YAML node")
	return Nil(c.loc(n))
}

// relocate moves only the top value: nested values keep the anchor's
// positions, which are the lines that actually hold them.
func relocate(v Value, loc diag.Location) Value {
	v.loc = loc
	return v
}

func (c *yamlConv) mapping(n *yaml.Node, depth int) Value {
	m := NewMapping()
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.ShortTag() == "!!merge" {
			merges = append(merges, vn)
			continue
		}
		if kn.Kind == yaml.AliasNode && kn.Alias != nil {
			kn = kn.Alias
		}
		if kn.Kind != yaml.ScalarNode {
			c.errorf(kn, "a mapping key must be a scalar, found %s", nodeKind(kn))
			continue
		}
		key := String(kn.Value, c.loc(kn))
		if prev, ok := m.GetPair(kn.Value); ok {
			c.diags = c.diags.Append(diag.Diagnostic{
				Severity:  diag.Error,
				Summary:   fmt.Sprintf("duplicate key %q", kn.Value),
				Detail:    "A key may appear only once in a mapping; the first one is at " + prev.Key.loc.String() + ".",
				Locations: []diag.Location{c.loc(kn), prev.Key.loc},
			})
			continue
		}
		m.Set(key, c.convert(vn, depth+1))
	}
	// Merge keys (<<: *defaults) add entries that the mapping does not set
	// itself; earlier merge sources win over later ones, as YAML specifies.
	for _, mn := range merges {
		sources := []*yaml.Node{mn}
		target := mn
		if target.Kind == yaml.AliasNode && target.Alias != nil {
			target = target.Alias
		}
		if target.Kind == yaml.SequenceNode {
			sources = target.Content
		}
		for _, src := range sources {
			sv := c.convert(src, depth+1)
			sm, ok := sv.AsMap()
			if !ok {
				c.errorf(src, "a merge key (<<) must refer to a mapping, found %s", sv.Kind())
				continue
			}
			for _, p := range sm.Pairs() {
				if _, exists := m.Get(p.Key.str); !exists {
					m.Set(p.Key, p.Value)
				}
			}
		}
	}
	return Map(m, c.loc(n))
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "map"
	case yaml.SequenceNode:
		return "sequence"
	case yaml.AliasNode:
		return "alias"
	default:
		return "scalar"
	}
}

func (c *yamlConv) scalar(n *yaml.Node) Value {
	loc := c.loc(n)
	switch n.ShortTag() {
	case "!!null":
		return Nil(loc)
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return Bool(b, loc)
		}
	case "!!int":
		var out any
		if err := n.Decode(&out); err == nil {
			switch x := out.(type) {
			case int:
				return Int(int64(x), loc)
			case int64:
				return Int(x, loc)
			case uint64:
				if x <= math.MaxInt64 {
					return Int(int64(x), loc)
				}
				return Float(float64(x), loc)
			case float64:
				return Float(x, loc)
			}
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil {
			return Float(f, loc)
		}
	}
	// Strings, timestamps (kept as written), binary and custom tags.
	return String(n.Value, loc)
}
