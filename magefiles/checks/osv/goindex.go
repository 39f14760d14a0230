package osv

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The database layout govulncheck reads with -db file:///DIR:
//
//	DIR/index/db.json       {"modified": time}
//	DIR/index/modules.json  [{"path": module, "vulns": [{"id", "modified"}]}]
//	DIR/ID/GO-YYYY-NNNN.json
//
// The Go vulnerability data (golang.org/x/vulndb, data/osv/) holds the
// entries; BuildGoIndex writes the index beside a link to them.

type goDBMeta struct {
	Modified time.Time `json:"modified"`
}

type goModuleMeta struct {
	Path  string        `json:"path"`
	Vulns []goModuleRef `json:"vulns"`
}

type goModuleRef struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	// Fixed is left out on purpose: it is only a shortcut for the client,
	// and a wrong one would hide entries.
}

// GoDBReady reports whether dir holds a database BuildGoIndex finished.
func GoDBReady(dir string) bool {
	for _, p := range []string{"index/db.json", "index/modules.json", "ID"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return false
		}
	}
	return true
}

// BuildGoIndex makes dst a govulncheck database over the OSV entries in
// src (files named <ID>.json): dst/ID links to src, and the index is
// computed from the entries. modified stamps the database (the data's
// own entries may carry zero times). The build goes through a temporary
// directory, so dst is either complete or absent.
func BuildGoIndex(src, dst string, modified time.Time) (count int, err error) {
	names, err := os.ReadDir(src)
	if err != nil {
		return 0, fmt.Errorf("read Go advisories %s: %w", src, err)
	}
	modules := map[string]*goModuleMeta{}
	for _, d := range names {
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".json") {
			continue
		}
		// #nosec G304 -- a JSON file of the vulnerability database directory the operator named (CI_GOVULN_DB)
		b, err := os.ReadFile(filepath.Join(src, d.Name()))
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", d.Name(), err)
		}
		var e Entry
		if err := json.Unmarshal(b, &e); err != nil {
			return 0, fmt.Errorf("parse %s: %w", d.Name(), err)
		}
		if e.ID+".json" != d.Name() {
			return 0, fmt.Errorf("advisory file %s holds %s: names must be <ID>.json", d.Name(), e.ID)
		}
		count++
		seen := map[string]bool{}
		for _, a := range e.Affected {
			path := a.Package.Name
			if path == "" || seen[path] {
				continue
			}
			seen[path] = true
			m := modules[path]
			if m == nil {
				m = &goModuleMeta{Path: path}
				modules[path] = m
			}
			m.Vulns = append(m.Vulns, goModuleRef{ID: e.ID, Modified: e.Modified})
		}
	}
	if count == 0 {
		return 0, &ErrNoDatabase{Dir: src, Ecosystem: "Go"}
	}
	list := make([]*goModuleMeta, 0, len(modules))
	for _, m := range modules {
		sort.Slice(m.Vulns, func(i, j int) bool { return m.Vulns[i].ID < m.Vulns[j].ID })
		list = append(list, m)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Path < list[j].Path })

	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".build-"+filepath.Base(dst)+"-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Join(tmp, "index"), 0o755); err != nil {
		return 0, err
	}
	absSrc, err := filepath.Abs(src)
	if err != nil {
		return 0, err
	}
	if err := os.Symlink(absSrc, filepath.Join(tmp, "ID")); err != nil {
		return 0, fmt.Errorf("link advisories: %w", err)
	}
	if err := writeJSON(filepath.Join(tmp, "index", "db.json"), goDBMeta{Modified: modified.UTC()}); err != nil {
		return 0, err
	}
	if err := writeJSON(filepath.Join(tmp, "index", "modules.json"), list); err != nil {
		return 0, err
	}
	_ = os.RemoveAll(dst)
	if err := os.Rename(tmp, dst); err != nil {
		return 0, fmt.Errorf("install Go vulnerability index at %s: %w", dst, err)
	}
	return count, nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return os.WriteFile(path, b, 0o644)
}
