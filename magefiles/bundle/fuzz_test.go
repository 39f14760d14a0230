package bundle

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// fuzzFiles is the in-memory bundle a fuzz input describes: a root file, one
// included resources file, and the files the repository's job points at.
func fuzzFiles(root, resources []byte) fstest.MapFS {
	return fstest.MapFS{
		"databricks.yml":                     {Data: root},
		"resources/r.yml":                    {Data: resources},
		"src/human_interrupt_agent/train.py": {Data: []byte("print('train')\n")},
		"notebooks/train.py":                 {Data: []byte("# Databricks notebook source\n")},
	}
}

// FuzzLoad feeds arbitrary configuration to the loader. Whatever the input,
// Load must not panic, must return a bundle exactly when there is no
// error, must describe every problem with a summary and a location inside
// the bundle, and a loaded bundle must print as valid JSON.
func FuzzLoad(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s.root, s.resources, s.target)
	}
	f.Fuzz(func(t *testing.T, root, resources []byte, target string) {
		fsys := fuzzFiles(root, resources)
		b, diags := Load("fuzz", LoadOptions{Target: target, FS: fsys, CurrentUser: "fuzz@example.com"})
		if diags.HasError() != (b == nil) {
			t.Fatalf("HasError=%v but bundle nil=%v\n%s", diags.HasError(), b == nil, diags)
		}
		for _, d := range diags {
			if strings.TrimSpace(d.Summary) == "" {
				t.Fatalf("diagnostic without summary: %+v", d)
			}
			for _, l := range d.Locations {
				if l.IsZero() {
					continue
				}
				if _, ok := fsys[l.File]; !ok || l.Line < 1 {
					t.Fatalf("diagnostic %q points at %s, which is not a line of a bundle file", d.Summary, l)
				}
			}
		}
		if b == nil {
			return
		}
		out, err := b.Config()
		if err != nil {
			t.Fatalf("config of a loaded bundle: %v", err)
		}
		if !json.Valid(out) {
			t.Fatalf("config is not valid JSON:\n%s", out)
		}
	})
}

type fuzzSeed struct {
	root, resources []byte
	target          string
}

// fuzzSeeds are the fixtures (good and bad) and the repository's bundle,
// so the fuzzer starts from realistic configuration.
func fuzzSeeds(tb testing.TB) []fuzzSeed {
	var seeds []fuzzSeed
	add := func(dir, target string) {
		root, err := os.ReadFile(filepath.Join(dir, "databricks.yml"))
		if err != nil {
			tb.Fatalf("seed %s: %v", dir, err)
		}
		var res []byte
		matches, _ := filepath.Glob(filepath.Join(dir, "resources", "*.yml"))
		sort.Strings(matches)
		for _, m := range matches {
			data, err := os.ReadFile(m)
			if err != nil {
				tb.Fatalf("seed %s: %v", m, err)
			}
			// One resources file: later files' top-level keys would repeat,
			// so only the first file's content is used whole.
			if res == nil {
				res = data
			}
		}
		seeds = append(seeds, fuzzSeed{root: []byte(strings.ReplaceAll(string(root), "resources/*.yml", "resources/r.yml")), resources: res, target: target})
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "bad"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		add(filepath.Join("testdata", "bad", e.Name()), "")
	}
	add(minimal, "")
	add(minimal, "prod")
	add(filepath.Join("testdata", "bad", "two_default_targets"), "dev")
	add(filepath.Join("testdata", "bad", "several_phases"), "dev")
	for _, target := range []string{"dev", "staging", "prod"} {
		add(filepath.Join("..", ".."), target)
	}
	// The corpus: every resource type and section, anchors and merge keys.
	for _, c := range []string{"all_resources", "all_sections", "environments_alias"} {
		add(filepath.Join("testdata", "corpus", c), "")
	}
	add(filepath.Join("testdata", "corpus", "mlops_stack_layout"), "prod")
	return seeds
}

// TestWriteFuzzCorpus rewrites the seed-* files of testdata/fuzz/FuzzLoad
// from the fixtures when run with -update, so the committed corpus follows
// them. The found-* files are inputs a fuzzing run found interesting and
// are kept.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/fuzz/FuzzLoad")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzLoad")
	old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range fuzzSeeds(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n[]byte(%s)\nstring(%s)\n",
			strconv.Quote(string(s.root)), strconv.Quote(string(s.resources)), strconv.Quote(s.target))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
