package bundle

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/dyn"
)

// reference matches ${a.b[0].c}; the key grammar is the CLI's, so text
// such as ${ not a ref } or {{job.parameters.x}} stays literal.
var reference = regexp.MustCompile(`\$\{([a-zA-Z]+(?:[-_]*[a-zA-Z0-9]+)*(?:\[[0-9]+\])*(?:\.[a-zA-Z]+(?:[-_]*[a-zA-Z0-9]+)*(?:\[[0-9]+\])*)*)\}`)

// MaxExpandedBytes bounds the value one string may expand to. References
// that repeat another (v1: ${var.v0}${var.v0}, v2: ${var.v1}${var.v1}, …)
// double the size at each step; past this bound the value is an error
// naming the variable, instead of exhausting memory.
const MaxExpandedBytes = 64 << 10

// deferredResourceFields are resource fields that only exist after deploy
// (IDs, URLs); references to them stay in the configuration for the
// deploy engine to fill.
var deferredResourceFields = map[string]bool{"id": true, "url": true, "endpoint_id": true}

// resolver replaces ${...} references in a tree. It resolves a referenced
// value before using it, so references may nest (a variable whose default
// names another variable); a reference that comes back to itself is a
// cycle and an error.
type resolver struct {
	tree dyn.Value
	// sections are the first path components this pass resolves; others
	// that are known sections are left for a later pass.
	sections map[string]bool
	done     map[string]dyn.Value
	active   map[string]bool
	stack    []string
	// skipped are variables without a value; their references are not
	// reported again.
	skipped func(name string) bool
	// failed are the config paths that already have errors: a reference
	// to one stays unresolved without a second error.
	failed []string
	// tainted are the paths of values left unresolved because what they
	// reference has no value or an error.
	tainted []string
	diags   diag.Diagnostics
}

func newResolver(tree dyn.Value, sections ...string) *resolver {
	r := &resolver{
		tree:     tree,
		sections: map[string]bool{},
		done:     map[string]dyn.Value{},
		active:   map[string]bool{},
		skipped:  func(string) bool { return false },
	}
	for _, s := range sections {
		r.sections[s] = true
	}
	return r
}

// interpolate resolves everything but ${resources.*}.
func (l *loader) interpolate() {
	r := newResolver(l.tree, "bundle", "workspace", "variables", "var", "presets", "artifacts", "sync", "permissions", "run_as", "include", "experimental")
	r.skipped = func(name string) bool {
		_, ok := l.b.Variables[name]
		return !ok
	}
	r.failed = l.errorPaths()
	l.tree = r.node(nil, l.tree)
	l.diags = l.diags.Extend(r.diags)
	l.tainted = append(l.tainted, r.tainted...)
	for name, v := range l.b.Variables {
		v.Value = dyn.GetPath(l.tree, dyn.NewPath("variables", name, "value")).Interface()
	}
}

// resolveResourceRefs resolves ${resources.<kind>.<key>.<field>} now that
// presets have given resources their final names. References to values
// that only exist after deploy (id) stay as they are.
func (l *loader) resolveResourceRefs() {
	r := newResolver(l.tree, "resources")
	r.failed = append(l.errorPaths(), l.tainted...)
	l.tree = r.node(nil, l.tree)
	l.diags = l.diags.Extend(r.diags)
	l.tainted = append(l.tainted, r.tainted...)
}

// node returns v, found at path at, with all references resolved.
func (r *resolver) node(at dyn.Path, v dyn.Value) dyn.Value {
	key := at.String()
	if out, ok := r.done[key]; ok {
		return out
	}
	if r.active[key] {
		// Only reachable through a reference; ref reports the cycle.
		return v
	}
	r.active[key] = true
	r.stack = append(r.stack, key)
	defer func() {
		delete(r.active, key)
		r.stack = r.stack[:len(r.stack)-1]
	}()

	var out dyn.Value
	switch v.Kind() {
	case dyn.KindString:
		out = r.str(at, v)
	case dyn.KindMap:
		m, _ := v.AsMap()
		nm := dyn.NewMapping()
		for _, p := range m.Pairs() {
			nm.Set(p.Key, r.node(at.Key(p.Key.MustString()), p.Value))
		}
		out = dyn.Map(nm, v.Location())
	case dyn.KindSeq:
		items, _ := v.AsSeq()
		ni := make([]dyn.Value, len(items))
		for i, item := range items {
			ni[i] = r.node(at.Index(i), item)
		}
		out = dyn.Seq(ni, v.Location())
	default:
		out = v
	}
	r.done[key] = out
	return out
}

// str resolves the references in one string. A string that is exactly one
// reference takes the referenced value with its type (an int stays an
// int); otherwise scalars are formatted into the string.
func (r *resolver) str(at dyn.Path, v dyn.Value) dyn.Value {
	s, _ := v.AsString()
	matches := reference.FindAllStringSubmatchIndex(s, -1)
	if len(matches) == 0 {
		return v
	}
	if len(matches) == 1 && matches[0][0] == 0 && matches[0][1] == len(s) {
		resolved, ok := r.ref(at, v, s[matches[0][2]:matches[0][3]])
		if !ok {
			return v
		}
		return resolved.WithLocation(v.Location())
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		b.WriteString(s[last:m[0]])
		last = m[1]
		resolved, ok := r.ref(at, v, s[m[2]:m[3]])
		if !ok {
			b.WriteString(s[m[0]:m[1]])
			continue
		}
		text, isScalar := resolved.Text()
		if !isScalar {
			r.errorf(at, v, "cannot interpolate %s ${%s} into a string; only a whole value may be a map or sequence", resolved.Kind(), s[m[2]:m[3]])
			b.WriteString(s[m[0]:m[1]])
			continue
		}
		if b.Len()+len(text)+len(s)-last > MaxExpandedBytes {
			r.tooLarge(at, v, s[m[2]:m[3]])
			return v
		}
		b.WriteString(text)
	}
	b.WriteString(s[last:])
	return dyn.String(b.String(), v.Location())
}

// tooLarge reports a value that expands past MaxExpandedBytes, once per
// variable (its default and its value are the same text), and leaves
// every reference to it unresolved from now on, so nothing built on it
// grows further.
func (r *resolver) tooLarge(at dyn.Path, v dyn.Value, ref string) {
	root := variableRoot(at)
	if overlaps([]string{root.String()}, r.failed) {
		r.tainted = append(r.tainted, at.String())
		return
	}
	r.failed = append(r.failed, root.String())
	r.errorf(at, v, "%s expands to more than %d bytes: its references repeat one another (${%s} is used more than once at each step); a value may expand to at most %d bytes",
		describeAt(at), MaxExpandedBytes, ref, MaxExpandedBytes)
}

// variableRoot is variables.<name> for a path inside a variable, else at.
func variableRoot(at dyn.Path) dyn.Path {
	if len(at) >= 2 && at[0].KeyName() == "variables" {
		return at[:2]
	}
	return at
}

// describeAt names the value at a path: "variable x" for a variable's
// value, else the configuration path.
func describeAt(at dyn.Path) string {
	if len(at) >= 2 && at[0].KeyName() == "variables" {
		return fmt.Sprintf("variable %s", at[1].KeyName())
	}
	return at.String()
}

func (r *resolver) errorf(at dyn.Path, v dyn.Value, format string, args ...any) {
	r.diags = r.diags.Append(diag.Diagnostic{
		Severity:  diag.Error,
		Summary:   fmt.Sprintf(format, args...),
		Locations: []diag.Location{v.Location()},
		Paths:     []string{at.String()},
	})
}

// ref resolves one reference written in v at path at. ok is false when
// the reference stays unresolved (deferred or an error).
func (r *resolver) ref(at dyn.Path, v dyn.Value, expr string) (dyn.Value, bool) {
	p, err := dyn.ParsePath(expr)
	if err != nil || len(p) == 0 {
		r.errorf(at, v, "invalid reference ${%s}", expr)
		return dyn.InvalidValue, false
	}
	section := p[0].KeyName()
	if !knownSections[section] {
		r.errorf(at, v, "reference ${%s} names unknown section %q", expr, section)
		return dyn.InvalidValue, false
	}
	if !r.sections[section] {
		return dyn.InvalidValue, false
	}
	if section == "var" {
		if len(p) < 2 || p[1].IsIndex() {
			r.errorf(at, v, "invalid reference ${%s}: expected ${var.<name>}", expr)
			return dyn.InvalidValue, false
		}
		name := p[1].KeyName()
		if !r.tree.Get("variables").Get(name).IsValid() {
			r.errorf(at, v, "reference to undefined variable ${var.%s}", name)
			return dyn.InvalidValue, false
		}
		if r.skipped(name) {
			r.tainted = append(r.tainted, at.String())
			return dyn.InvalidValue, false
		}
		p = append(dyn.NewPath("variables", name, "value"), p[2:]...)
	}
	if section == "resources" {
		if len(p) < 3 {
			r.errorf(at, v, "invalid reference ${%s}: expected ${resources.<type>.<key>.<field>}", expr)
			return dyn.InvalidValue, false
		}
		if !dyn.GetPath(r.tree, p[:3]).IsValid() {
			r.errorf(at, v, "reference ${%s} names a resource the bundle does not define", expr)
			return dyn.InvalidValue, false
		}
		if len(p) == 4 && deferredResourceFields[p[3].KeyName()] && !dyn.GetPath(r.tree, p).IsValid() {
			return dyn.InvalidValue, false
		}
	}
	if overlaps([]string{p.String()}, r.failed) {
		// What at refers to has an error: at is left unresolved, and so is
		// anything that refers to at.
		r.tainted = append(r.tainted, at.String())
		r.failed = append(r.failed, variableRoot(at).String())
		return dyn.InvalidValue, false
	}
	target := dyn.GetPath(r.tree, p)
	if !target.IsValid() {
		if section == "variables" && len(p) >= 2 && r.skipped(p[1].KeyName()) {
			return dyn.InvalidValue, false
		}
		r.errorf(at, v, "reference ${%s} does not exist", expr)
		return dyn.InvalidValue, false
	}
	key := p.String()
	if r.active[key] {
		r.errorf(at, v, "cycle in references: %s", r.cycle(key))
		r.done[key] = target
		return dyn.InvalidValue, false
	}
	return r.node(p, target), true
}

// cycle renders the chain of references from key back to key, with
// variables written as var.<name>.
func (r *resolver) cycle(key string) string {
	start := 0
	for i, k := range r.stack {
		if k == key {
			start = i
			break
		}
	}
	// The diagnostic sits on the last value of the stack, so the chain
	// starts there: var.a -> var.b -> var.a reads from the reported line.
	loop := r.stack[start:]
	chain := append([]string{loop[len(loop)-1]}, loop[:len(loop)-1]...)
	chain = append(chain, chain[0])
	for i, k := range chain {
		if strings.HasPrefix(k, "variables.") && strings.HasSuffix(k, ".value") {
			chain[i] = "var." + strings.TrimSuffix(strings.TrimPrefix(k, "variables."), ".value")
		}
	}
	return strings.Join(chain, " -> ")
}
