package checks

import (
	"fmt"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// goPackages is the module's package graph as the import clauses of its
// files say (tests' imports included), read without the go command: a
// few milliseconds, so every run can afford it, warm ones included.
type goPackages struct {
	module string
	// imports maps a package directory (slash-separated, relative to the
	// root, "." for the root) to the module's package directories it or
	// its tests import.
	imports map[string][]string
}

// scanGoPackages reads every Go file under root that the default build
// context builds (files for other systems, `//go:build ignore` and the
// magefiles' `//go:build mage` files are left out, as `go list ./...`
// leaves them out), skipping testdata, hidden and underscore directories.
func scanGoPackages(root string) (*goPackages, error) {
	g := &goPackages{module: modulePath(root), imports: map[string][]string{}}
	if g.module == "" {
		return nil, fmt.Errorf("scan Go packages: no module path in %s", filepath.Join(root, "go.mod"))
	}
	fset := token.NewFileSet()
	seen := map[string]map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
				(filepath.Dir(p) == root && name == "artifacts")) { // run output
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || !d.Type().IsRegular() {
			return nil
		}
		dir := filepath.Dir(p)
		ok, err := build.Default.MatchFile(dir, name)
		if err != nil {
			return fmt.Errorf("scan Go packages: %w", err)
		}
		if !ok {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return fmt.Errorf("scan Go packages: %w", err)
		}
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if seen[rel] == nil {
			seen[rel] = map[string]bool{}
			g.imports[rel] = nil
		}
		for _, imp := range f.Imports {
			ip, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				continue
			}
			dep, ok := g.dirOf(ip)
			if ok && dep != rel && !seen[rel][dep] {
				seen[rel][dep] = true
				g.imports[rel] = append(g.imports[rel], dep)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// dirOf maps an import path inside the module to its directory.
func (g *goPackages) dirOf(importPath string) (string, bool) {
	if importPath == g.module {
		return ".", true
	}
	if rest, ok := strings.CutPrefix(importPath, g.module+"/"); ok {
		return rest, true
	}
	return "", false
}

// dirs lists every package directory, sorted.
func (g *goPackages) dirs() []string {
	out := make([]string, 0, len(g.imports))
	for d := range g.imports {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// match lists the package directories a pattern names: "tests/e2e", or
// "magefiles/emulator/..." for a directory and everything under it.
func (g *goPackages) match(pattern string) []string {
	var out []string
	prefix, tree := strings.CutSuffix(pattern, "/...")
	for _, d := range g.dirs() {
		if d == prefix || (tree && strings.HasPrefix(d, prefix+"/")) {
			out = append(out, d)
		}
	}
	return out
}

// closure is the package directories and every module package they
// import, directly or not, tests' imports included; sorted.
func (g *goPackages) closure(dirs []string) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(d string) {
		if seen[d] {
			return
		}
		seen[d] = true
		for _, dep := range g.imports[d] {
			visit(dep)
		}
	}
	for _, d := range dirs {
		visit(d)
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// goFilesOf are the input patterns for the Go files of package dirs.
func goFilesOf(dirs []string) []string {
	out := make([]string, 0, len(dirs))
	for _, d := range dirs {
		out = append(out, path.Join(d, "*.go"))
	}
	return out
}
