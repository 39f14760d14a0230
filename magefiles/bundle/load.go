package bundle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/dyn"
)

// rootFileNames are the names a bundle's root file may have, in the order
// the CLI looks for them.
var rootFileNames = []string{"databricks.yml", "databricks.yaml", "bundle.yml", "bundle.yaml"}

const defaultTargetName = "default"

// loader carries one Load through its steps. Each step reads and changes
// the tree and appends diagnostics; run stops at the end of a phase that
// found an error, so later steps never work on a broken tree.
type loader struct {
	root string
	opts LoadOptions
	fsys fs.FS

	diags diag.Diagnostics

	// files are the parsed configuration files, the root file first.
	files []parsedFile
	// tree is the configuration: all files merged, then the target merged
	// over it, then resolved step by step.
	tree dyn.Value
	// targets is the targets section, kept when the tree drops it.
	targets dyn.Value

	target string
	// targetVars names the variables the target overrides.
	targetVars map[string]bool
	// targetRootPath is true when the target itself sets
	// workspace.root_path (what production mode asks for).
	targetRootPath bool
	// tainted are the config paths of values left with unresolved
	// references because of an error elsewhere.
	tainted []string

	user      User
	shortName string
	userKnown bool

	b *Bundle
}

type parsedFile struct {
	name  string
	value dyn.Value
}

func newLoader(root string, opts LoadOptions) *loader {
	fsys := opts.FS
	if fsys == nil {
		fsys = dirFS(root)
	}
	return &loader{root: root, opts: opts, fsys: fsys, targetVars: map[string]bool{}}
}

func (l *loader) run() *Bundle {
	l.b = &Bundle{Root: l.root, Variables: map[string]*Variable{}}
	phases := [][]func(){
		// Read databricks.yml and its include globs; one tree, every value
		// with its file:line:col.
		{l.loadFiles},
		// Unknown fields and wrong shapes anywhere, all targets included;
		// one default target at most, whichever target is asked for.
		// The CLI's old spellings rewritten; then the schema (what it warns
		// about left out of the tree), default targets, empty resources,
		// scripts and Python-defined resources.
		{l.applyCompat, l.checkSchema, l.checkDefaultTargets, l.checkNullResources, l.checkScripts, l.checkPython},
		// Pick the target and merge its overrides over the top level; a
		// target may only override resources the bundle defines.
		{l.selectTarget, l.checkTargetResources, l.mergeTarget, l.requireBundleName},
		// Default workspace paths, the current user, variable values.
		{l.defineWorkspaceDefaults, l.resolveUser, l.defineVariables},
		// ${var.*}, ${bundle.*}, ${workspace.*} (resources come later).
		{l.interpolate},
		// Typed bundle, workspace and preset settings; mode semantics.
		{l.decodeSettings, l.checkBundlePermissions, l.applyMode, l.checkMode},
		// A developer's cluster for every task; local paths to workspace
		// paths; presets and run_as on resources; ${resources.*}
		// references, now that names are final.
		{l.overrideCompute, l.translatePaths, l.applyPresets, l.applyRunAs, l.resolveResourceRefs},
		// Resources into the SDK's types, their cross-checks, the rollout
		// and load policies, the alias names, the host the caller will use.
		{l.decodeResources, l.validateResources, l.checkRequiredSettings, l.readPolicies, l.checkAliasVariables, l.checkHost},
	}
	const read, selected = 0, 2 // the phases that read the files and pick the target
	for i, phase := range phases {
		if !l.runPhase(phase) {
			return nil
		}
		// Without the files or a target there is nothing for later
		// phases to check.
		if l.diags.HasError() && (i == read || (i >= selected && l.target == "")) {
			return nil
		}
	}
	if l.diags.HasError() {
		return nil
	}
	l.b.config = l.tree
	return l.b
}

// runPhase runs a phase's steps. After errors in earlier phases the phase
// still runs, so every independent problem is reported in one run: its
// diagnostics at a path that already has an error (the same value, one
// inside it, or one around it) are consequences of that error and dropped.
// Values whose references could not be resolved because of an earlier
// error (l.tainted) count as having that error.
// A step that panics on a tree an earlier error left broken ends the load
// (false) with the errors found so far; on a tree without errors a panic
// is a bug and goes on.
func (l *loader) runPhase(phase []func()) (ok bool) {
	failed := l.errorPaths()
	start := len(l.diags)
	defer func() {
		if len(failed) == 0 {
			return
		}
		if r := recover(); r != nil {
			ok = false
		}
		failed = append(failed, l.tainted...)
		kept := l.diags[:start]
		for _, d := range l.diags[start:] {
			// Only errors: warnings about a tree with errors are noise.
			if d.Severity == diag.Error && !overlaps(d.Paths, failed) {
				kept = append(kept, d)
			}
		}
		l.diags = kept
	}()
	for _, step := range phase {
		step()
	}
	return true
}

// errorPaths are the config paths of the errors so far (a target's path
// also as the merged path it overrides), or nil (no error yet: nothing to
// drop, and a panic is not caught). An error without a path is recorded
// as "".
func (l *loader) errorPaths() []string {
	var out []string
	for _, d := range l.diags {
		if d.Severity != diag.Error {
			continue
		}
		if len(d.Paths) == 0 {
			out = append(out, "")
		}
		for _, p := range d.Paths {
			out = append(out, p)
			// A target's override lands at the same path without the
			// targets.<name> prefix once merged.
			if rest, ok := strings.CutPrefix(p, "targets."); ok {
				if _, merged, ok := strings.Cut(rest, "."); ok {
					out = append(out, merged)
				}
			}
		}
	}
	return out
}

// overlaps reports whether one of paths is one of failed, inside one, or
// around one.
func overlaps(paths, failed []string) bool {
	within := func(inner, outer string) bool {
		return outer != "" && (inner == outer || strings.HasPrefix(inner, outer+".") || strings.HasPrefix(inner, outer+"["))
	}
	for _, p := range paths {
		for _, f := range failed {
			if within(p, f) || within(f, p) {
				return true
			}
		}
	}
	return false
}

func (l *loader) errorAt(v dyn.Value, p dyn.Path, format string, args ...any) {
	d := diag.Diagnostic{Severity: diag.Error, Summary: fmt.Sprintf(format, args...)}
	if loc := v.Location(); !loc.IsZero() {
		d.Locations = []diag.Location{loc}
	}
	if p != nil {
		d.Paths = []string{p.String()}
	}
	l.diags = l.diags.Append(d)
}

func (l *loader) add(d diag.Diagnostic) { l.diags = l.diags.Append(d) }

// extendNew adds diagnostics from a later decode of values an earlier one
// already checked, leaving out warnings already reported at the same place:
// checkSchema drops unknown fields and wrong types from the tree, but an
// enum warning keeps its value and would be reported again.
func (l *loader) extendNew(ds diag.Diagnostics) {
	seen := map[string]bool{}
	key := func(d diag.Diagnostic) string {
		loc := ""
		if len(d.Locations) > 0 {
			loc = d.Locations[0].String()
		}
		return d.Summary + "\x00" + loc
	}
	for _, d := range l.diags {
		if d.Severity == diag.Warning {
			seen[key(d)] = true
		}
	}
	for _, d := range ds {
		if d.Severity == diag.Warning && seen[key(d)] {
			continue
		}
		l.add(d)
	}
}

// cliGrade grades decoding problems as the Databricks CLI does: its
// normalization warns about an unknown field or a value of the wrong type
// and drops the value (libs/dyn/convert/normalize.go), and its validation
// warns about a value outside an enum and a missing required field
// (bundle/config/validate/enum.go, required.go).
func cliGrade(dyn.Problem) diag.Severity { return diag.Warning }

// decodeOptions are o with the CLI's grading.
func (l *loader) decodeOptions(o dyn.DecodeOptions) dyn.DecodeOptions {
	o.Grade = cliGrade
	return o
}

// loadFiles reads the root file and every included file, checks that no
// resource key is defined twice and merges the files into one tree.
func (l *loader) loadFiles() {
	var rootName string
	for _, name := range rootFileNames {
		if _, err := fs.Stat(l.fsys, name); err == nil {
			if rootName != "" {
				l.diags = l.diags.Extend(diag.Errorf("both %s and %s exist in %s; keep one bundle root file", rootName, name, l.root))
				return
			}
			rootName = name
		}
	}
	if rootName == "" {
		l.add(diag.Diagnostic{
			Severity: diag.Error,
			Summary:  fmt.Sprintf("no databricks.yml in %s", l.root),
			Detail:   "A bundle starts at a directory holding databricks.yml; run from the repository root or pass its path.",
		})
		return
	}
	rootValue, ok := l.parseFile(rootName)
	if !ok {
		return
	}
	l.files = append(l.files, parsedFile{name: rootName, value: rootValue})
	for _, name := range l.includes(rootValue) {
		v, ok := l.parseFile(name)
		if !ok {
			continue
		}
		if inc := v.Get("include"); inc.IsValid() {
			// The CLI warns and does not follow it
			// (bundle/config/loader/process_include.go).
			l.add(diag.Diagnostic{
				Severity:  diag.Warning,
				Summary:   "Include section is defined outside root file",
				Detail:    fmt.Sprintf("An include section is defined in %s, which is not %s. Only includes defined in %s are applied.", name, rootName, rootName),
				Locations: []diag.Location{inc.Location()},
				Paths:     []string{"include"},
			})
			m, _ := v.AsMap()
			m = m.Clone()
			m.Delete("include")
			v = dyn.Map(m, v.Location())
		}
		l.files = append(l.files, parsedFile{name: name, value: v})
	}
	l.checkUniqueResourceKeys()
	tree := l.files[0].value
	for _, f := range l.files[1:] {
		merged, ds := dyn.Merge(tree, f.value, nil)
		l.diags = l.diags.Extend(ds)
		tree = merged
	}
	// As in the CLI's output, include lists the files it expanded to.
	if inc := tree.Get("include"); inc.IsValid() {
		files := make([]dyn.Value, 0, len(l.files)-1)
		for _, f := range l.files[1:] {
			files = append(files, dyn.String(f.name, inc.Location()))
		}
		if out, err := dyn.SetPath(tree, dyn.NewPath("include"), dyn.Seq(files, inc.Location())); err == nil {
			tree = out
		}
	}
	l.tree = tree
}

// parseFile reads one YAML file whose top level must be a mapping; an
// empty file is an empty mapping.
func (l *loader) parseFile(name string) (dyn.Value, bool) {
	data, err := l.readFile(name)
	if err != nil {
		l.add(diag.Diagnostic{Severity: diag.Error, Summary: fmt.Sprintf("cannot read %s: %v", name, unwrapPathError(err))})
		return dyn.InvalidValue, false
	}
	v, ds := dyn.FromYAML(name, data)
	l.diags = l.diags.Extend(ds)
	if !v.IsValid() {
		return v, false
	}
	switch v.Kind() {
	case dyn.KindNil:
		return dyn.Map(nil, v.Location()), true
	case dyn.KindMap:
		return v, true
	}
	l.errorAt(v, nil, "expected a mapping at the top of %s, found %s", name, describeKind(v))
	return dyn.InvalidValue, false
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func describeKind(v dyn.Value) string {
	if s, ok := v.AsString(); ok {
		if len(s) > 30 {
			s = s[:30] + "..."
		}
		return fmt.Sprintf("string %q", s)
	}
	return v.Kind().String()
}

// includes expands the include: entries of the root file into file names,
// sorted within each entry, each file once, as the CLI's
// ProcessRootIncludes does (bundle/config/loader/process_root_includes.go):
// paths are relative to the bundle root and may lead out of it (a shared
// ../common/vars.yml); a literal path that matches no file is an error, a
// glob that matches none is not (a new project may have no resources
// yet: a recommendation here, silent in the CLI); only .yml, .yaml and
// .json files may be included.
func (l *loader) includes(rootValue dyn.Value) []string {
	inc := rootValue.Get("include")
	if !inc.IsValid() || inc.Kind() == dyn.KindNil {
		return nil
	}
	items, ok := inc.AsSeq()
	if !ok {
		l.errorAt(inc, dyn.NewPath("include"), "include must be a list of paths or globs, found %s", describeKind(inc))
		return nil
	}
	seen := map[string]bool{}
	for _, f := range rootFileNames {
		seen[f] = true
	}
	var out []string
	for i, item := range items {
		at := dyn.NewPath("include").Index(i)
		pattern, ok := item.AsString()
		if !ok {
			l.errorAt(item, at, "include entries must be strings, found %s", describeKind(item))
			continue
		}
		if path.IsAbs(pattern) || filepath.IsAbs(pattern) {
			l.errorAt(item, at, "%s: includes must be relative paths", pattern)
			continue
		}
		clean := path.Clean(strings.TrimPrefix(pattern, "./"))
		if clean == "." {
			l.errorAt(item, at, "include path %q names the bundle root, not a file", pattern)
			continue
		}
		matches, err := l.glob(clean)
		if err != nil {
			l.errorAt(item, at, "invalid include pattern %q: %v", pattern, err)
			continue
		}
		if len(matches) == 0 {
			if strings.ContainsAny(clean, "*?[") {
				l.add(diag.Diagnostic{
					Severity:  diag.Recommendation,
					Summary:   fmt.Sprintf("include pattern %q matches no files", pattern),
					Locations: []diag.Location{item.Location()},
					Paths:     []string{at.String()},
				})
			} else {
				l.errorAt(item, at, "%s defined in 'include' section does not match any files", pattern)
			}
			continue
		}
		sort.Strings(matches)
		for _, m := range matches {
			if seen[m] {
				continue
			}
			seen[m] = true
			if ext := path.Ext(m); ext != ".yml" && ext != ".yaml" && ext != ".json" {
				l.add(diag.Diagnostic{
					Severity:  diag.Error,
					Summary:   "Files in the 'include' configuration section must be YAML or JSON files.",
					Detail:    fmt.Sprintf("The file %s in the 'include' configuration section is not a YAML or JSON file, and only such files are supported. To include files to sync, specify them in the 'sync.include' configuration section instead.", m),
					Locations: []diag.Location{item.Location()},
					Paths:     []string{at.String()},
				})
				continue
			}
			out = append(out, m)
		}
	}
	return out
}

// outside reports whether a cleaned relative path leads out of the root.
func outside(name string) bool { return name == ".." || strings.HasPrefix(name, "../") }

// glob matches a cleaned pattern relative to the root, inside it through
// the loader's file system and outside it (../shared/*.yml) on disk.
// Matches are slash-separated and relative to the root.
func (l *loader) glob(pattern string) ([]string, error) {
	if !outside(pattern) {
		if !strings.ContainsAny(pattern, "*?[") {
			if _, err := fs.Stat(l.fsys, pattern); err != nil {
				return nil, nil
			}
			return []string{pattern}, nil
		}
		return fs.Glob(l.fsys, pattern)
	}
	if l.opts.FS != nil {
		return nil, fmt.Errorf("it leads out of the bundle root, which this file system cannot read")
	}
	abs, err := filepath.Glob(filepath.Join(l.root, filepath.FromSlash(pattern)))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range abs {
		if st, err := os.Stat(a); err != nil || st.IsDir() {
			continue
		}
		rel, err := filepath.Rel(l.root, a)
		if err != nil {
			return nil, err
		}
		out = append(out, filepath.ToSlash(rel))
	}
	return out, nil
}

// readFile reads a configuration file named relative to the root.
func (l *loader) readFile(name string) ([]byte, error) {
	if !outside(name) {
		return fs.ReadFile(l.fsys, name)
	}
	if l.opts.FS != nil {
		return nil, fmt.Errorf("%s leads out of the bundle root, which this file system cannot read", name)
	}
	// #nosec G304 -- a file the bundle's own include: names, read as the CLI reads it
	return os.ReadFile(filepath.Join(l.root, filepath.FromSlash(name)))
}

// checkUniqueResourceKeys reports a resource key used twice, within a kind
// across files or across kinds: `bundle run <key>` must be unambiguous.
func (l *loader) checkUniqueResourceKeys() {
	type seenAt struct {
		kind string
		key  dyn.Value
	}
	first := map[string]seenAt{}
	for _, f := range l.files {
		res, ok := f.value.Get("resources").AsMap()
		if !ok {
			continue
		}
		for _, kp := range res.Pairs() {
			kind := kp.Key.MustString()
			items, ok := kp.Value.AsMap()
			if !ok {
				continue
			}
			for _, rp := range items.Pairs() {
				key := rp.Key.MustString()
				prev, dup := first[key]
				if !dup {
					first[key] = seenAt{kind: kind, key: rp.Key}
					continue
				}
				summary := fmt.Sprintf("multiple resources are defined with the key %q", key)
				detail := "Resource keys must be unique across all files and resource types of a bundle."
				if bothRegistries(kind, prev.kind) {
					summary = fmt.Sprintf("model %q is declared in both registries: resources.models and resources.registered_models", key)
					detail = "A bundle registers its model in one registry: keep registered_models (Unity Catalog, the default) or models (the workspace registry, for workspaces that still have it)."
				}
				l.add(diag.Diagnostic{
					Severity: diag.Error,
					Summary:  summary,
					Detail:   detail,
					Locations: []diag.Location{
						rp.Key.Location(), prev.key.Location(),
					},
					Paths: []string{
						dyn.NewPath("resources", kind, key).String(),
						dyn.NewPath("resources", prev.kind, key).String(),
					},
				})
			}
		}
	}
}

// checkSchema decodes the whole tree against the schema without requiring
// anything, and with references allowed anywhere, to find unknown fields
// and wrong shapes in every target before one is picked.
//
// Like the CLI's normalization on load, what it warns about is left out of
// the tree from here on: an unknown key, a value of the wrong type (a
// target's override among them, which then overrides nothing).
func (l *loader) checkSchema() {
	var schema rootSchema
	normalized, ds := dyn.DecodeWith(l.tree, &schema, nil, l.decodeOptions(dyn.DecodeOptions{AllowReferences: true, Partial: true, KeepNulls: true}))
	l.diags = l.diags.Extend(ds)
	if normalized.IsValid() {
		l.tree = normalized
	}
}

// targetNames lists the defined targets in the order the files define
// them (dev, staging, prod reads better than sorted).
func (l *loader) targetNames() []string {
	m, ok := l.tree.Get("targets").AsMap()
	if !ok {
		return nil
	}
	return m.Keys()
}

// bothRegistries reports whether two resource kinds are the two model
// registries.
func bothRegistries(a, b string) bool {
	return (a == KindModels && b == KindRegisteredModels) || (a == KindRegisteredModels && b == KindModels)
}
