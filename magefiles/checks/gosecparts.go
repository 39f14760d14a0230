package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// gosec reports a finding at a line of a package, from that package's code
// and the types of what it imports; so, as a Go test group's packages,
// each package is keyed by the Go files of its import closure, and a run
// analyses only the packages whose key changed since they were last
// analysed. The others' results come from their records, and the SARIF
// report holds every package's results, as a whole-module run would.

// gosecPart is what one package's analysis keeps: its SARIF results and
// the rules they name, as gosec wrote them.
type gosecPart struct {
	Results []json.RawMessage `json:"results"`
	Rules   []json.RawMessage `json:"rules"`
}

// gosecPlan splits the module's packages into those to analyse and those
// whose record holds.
type gosecPlan struct {
	keys map[string]string    // package dir -> key, of the packages to analyse
	kept map[string]gosecPart // package dir -> record
	run  []string             // package dirs to analyse
	all  int
	// keysOfAll and allDirs are every package's key and directory, for a
	// run that analyses the whole module.
	keysOfAll map[string]string
	allDirs   []string
}

func planGosec(ctx context.Context, t *pipeline.T, cfg Config, version string) (*gosecPlan, error) {
	graph, err := scanGoPackages(cfg.Root)
	if err != nil {
		return nil, err
	}
	p := &gosecPlan{keys: map[string]string{}, kept: map[string]gosecPart{}, keysOfAll: map[string]string{}}
	for _, d := range graph.dirs() {
		p.all++
		p.allDirs = append(p.allDirs, d)
		in := pipeline.Inputs{
			Files:   append([]string{"go.mod", "go.sum"}, goFilesOf(graph.closure([]string{d}))...),
			Config:  []string{"exclude=" + strings.Join(gosecExcludes, ",")},
			Version: func(context.Context) (string, error) { return version, nil },
		}
		key, ok, err := t.PartKey(ctx, d, in)
		if err != nil {
			return nil, err
		}
		if ok {
			p.keysOfAll[d] = key
			if raw, hit := t.PartPassed(d, key); hit {
				var part gosecPart
				if json.Unmarshal(raw, &part) == nil {
					p.kept[d] = part
					continue
				}
			}
			p.keys[d] = key
		}
		p.run = append(p.run, d)
	}
	return p, nil
}

// gosecPerPackage is the most packages analysed one gosec run each; more
// are analysed in one run over the whole module, which names files from
// the root (given package directories, gosec names a file by its base
// name only).
const gosecPerPackage = 3

// analyse runs gosec on the packages to analyse and returns its SARIF
// report, with every file named from the root; runErr is gosec's own
// failure, err a failure to get any report.
func (p *gosecPlan) analyse(ctx context.Context, t *pipeline.T, cfg Config, bin, sarifPath string) (report []byte, runErr, err error) {
	gosec := func(target, out string) ([]byte, error, error) {
		var log bytes.Buffer
		// Not -quiet: with it gosec writes no report when it finds nothing.
		rerr := toolchain.Run(ctx, toolchain.Cmd{
			Name: bin,
			Args: []string{"-no-fail", "-fmt", "sarif", "-out", out, "-exclude", strings.Join(gosecExcludes, ","), "-exclude-dir", "testdata", target},
			Dir:  cfg.Root, Stdout: &log, Stderr: &log,
		})
		b, err := os.ReadFile(out) // #nosec G304 -- the SARIF report this check just had gosec write under artifacts/
		if err != nil {
			t.Printf("%s", toolchain.Tail(log.String(), 30))
			if rerr != nil {
				return nil, rerr, fmt.Errorf("gosec: %w", rerr)
			}
			return nil, nil, fmt.Errorf("gosec wrote no report: %w", err)
		}
		if rerr != nil {
			t.Printf("%s", toolchain.Tail(log.String(), 30))
		}
		return b, rerr, nil
	}
	if len(p.run) > gosecPerPackage || len(p.run) == p.all {
		// Every package is analysed again, and recorded.
		for d, k := range p.keysOfAll {
			p.keys[d] = k
		}
		p.run, p.kept = p.allDirs, map[string]gosecPart{}
		return gosec("./...", sarifPath)
	}
	var merged *gosecSARIF // the first report, its driver as gosec wrote it
	for _, d := range p.run {
		b, rerr, err := gosec("./"+d, sarifPath)
		if err != nil || rerr != nil {
			return b, rerr, err
		}
		one, err := parseGosecSARIF(b)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range one.results() {
			setResultURI(r, d)
		}
		if merged == nil {
			merged = one
		} else {
			merged.add(one.results(), one.rules())
		}
	}
	b, err := merged.bytes()
	return b, nil, err
}

// setResultURI names a result's file from the root: gosec, given a
// package directory, names it by its base name.
func setResultURI(r any, dir string) {
	m, _ := r.(map[string]any)
	locs, _ := m["locations"].([]any)
	for _, l := range locs {
		loc, _ := l.(map[string]any)
		phys, _ := loc["physicalLocation"].(map[string]any)
		art, _ := phys["artifactLocation"].(map[string]any)
		if uri, ok := art["uri"].(string); ok && !strings.Contains(uri, "/") {
			art["uri"] = path.Join(dir, uri)
		}
	}
}

// merge records what this run found per analysed package and returns the
// SARIF report with the kept packages' results and rules added. report is
// gosec's SARIF of this run, or nil when nothing was analysed.
func (p *gosecPlan) merge(t *pipeline.T, report []byte, root string) ([]byte, error) {
	doc := emptyGosecSARIF()
	if report != nil {
		var err error
		if doc, err = parseGosecSARIF(report); err != nil {
			return nil, err
		}
	}
	results := doc.results()
	ruleByID := map[string]json.RawMessage{}
	for _, r := range doc.rules() {
		raw, _ := json.Marshal(r)
		ruleByID[stringField(r, "id")] = raw
	}

	// Record each analysed package's results (none is a result too).
	parts := map[string]*gosecPart{}
	for _, d := range p.run {
		parts[d] = &gosecPart{}
	}
	for _, r := range results {
		dir := path.Dir(relURI(root, resultURI(r)))
		part := parts[dir]
		if part == nil {
			continue
		}
		raw, _ := json.Marshal(r)
		part.Results = append(part.Results, raw)
		if rule, ok := ruleByID[stringField(r, "ruleId")]; ok {
			part.Rules = append(part.Rules, rule)
		}
	}
	for d, part := range parts {
		key, ok := p.keys[d]
		if !ok {
			continue
		}
		raw, err := json.Marshal(part)
		if err != nil {
			return nil, err
		}
		if err := t.RecordPart(d, key, raw); err != nil {
			return nil, err
		}
	}

	// Add the kept packages' results and the rules they name.
	dirs := make([]string, 0, len(p.kept))
	for d := range p.kept {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		doc.add(decodeAll(p.kept[d].Results), decodeAll(p.kept[d].Rules))
	}
	return doc.bytes()
}

func decodeAll(raws []json.RawMessage) []any {
	out := make([]any, 0, len(raws))
	for _, raw := range raws {
		var v any
		if json.Unmarshal(raw, &v) == nil {
			out = append(out, v)
		}
	}
	return out
}

// gosecSARIF is a gosec report kept as decoded JSON, so every field gosec
// writes survives a merge; gosec writes one run.
type gosecSARIF struct {
	log, run, driver map[string]any
}

func emptyGosecSARIF() *gosecSARIF {
	run := map[string]any{"tool": map[string]any{"driver": map[string]any{"name": "gosec", "rules": []any{}}}, "results": []any{}}
	return &gosecSARIF{log: map[string]any{"version": sarifVersion, "$schema": sarifSchema, "runs": []any{run}}, run: run, driver: sarifDriverMap(run)}
}

func parseGosecSARIF(b []byte) (*gosecSARIF, error) {
	var log map[string]any
	if err := json.Unmarshal(b, &log); err != nil {
		return nil, fmt.Errorf("gosec report: %w", err)
	}
	runs, _ := log["runs"].([]any)
	if len(runs) == 0 {
		return nil, fmt.Errorf("gosec report: no run")
	}
	run, _ := runs[0].(map[string]any)
	if run == nil {
		return nil, fmt.Errorf("gosec report: no run")
	}
	return &gosecSARIF{log: log, run: run, driver: sarifDriverMap(run)}, nil
}

func (g *gosecSARIF) results() []any { r, _ := g.run["results"].([]any); return r }
func (g *gosecSARIF) rules() []any   { r, _ := g.driver["rules"].([]any); return r }

// add appends results, and the rules among rules the report lacks (by id).
func (g *gosecSARIF) add(results, rules []any) {
	g.run["results"] = append(g.results(), results...)
	have := map[string]bool{}
	all := g.rules()
	for _, r := range all {
		have[stringField(r, "id")] = true
	}
	for _, r := range rules {
		if id := stringField(r, "id"); !have[id] {
			have[id] = true
			all = append(all, r)
		}
	}
	g.driver["rules"] = all
}

func (g *gosecSARIF) bytes() ([]byte, error) { return json.MarshalIndent(g.log, "", "  ") }

func sarifDriverMap(run map[string]any) map[string]any {
	tool, _ := run["tool"].(map[string]any)
	if tool == nil {
		tool = map[string]any{}
		run["tool"] = tool
	}
	driver, _ := tool["driver"].(map[string]any)
	if driver == nil {
		driver = map[string]any{"name": "gosec"}
		tool["driver"] = driver
	}
	return driver
}

// resultURI is a SARIF result's first location's file.
func resultURI(r any) string {
	m, _ := r.(map[string]any)
	locs, _ := m["locations"].([]any)
	if len(locs) == 0 {
		return ""
	}
	loc, _ := locs[0].(map[string]any)
	phys, _ := loc["physicalLocation"].(map[string]any)
	art, _ := phys["artifactLocation"].(map[string]any)
	uri, _ := art["uri"].(string)
	return uri
}

func stringField(v any, key string) string {
	m, _ := v.(map[string]any)
	s, _ := m[key].(string)
	return s
}
