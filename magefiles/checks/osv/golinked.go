package osv

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/semver"
)

// GoPackage is one package a Go program links: its import path and the
// module that provides it (Module "" for the standard library, whose
// version is the Go release).
type GoPackage struct {
	ImportPath, Module, Version string
}

// goEntry is a Go vulnerability database entry, with the packages each
// affected module names (ecosystem_specific.imports).
type goEntry struct {
	ID       string `json:"id"`
	Affected []struct {
		Package           Package `json:"package"`
		Ranges            []Range `json:"ranges"`
		EcosystemSpecific struct {
			Imports []struct {
				Path string `json:"path"`
			} `json:"imports"`
		} `json:"ecosystem_specific"`
	} `json:"affected"`
}

// GoLinkedAffected lists, as "ID import/path", the linked packages that an
// advisory of the govulncheck database at dir covers at the linked version.
// goVersion ("go1.27.3") is the standard library's version. An advisory
// that names no packages covers every package of its module.
func GoLinkedAffected(dir string, linked []GoPackage, goVersion string) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "index", "modules.json")) // #nosec G304 -- the vulnerability database the check was given
	if err != nil {
		return nil, fmt.Errorf("vulnerability index: %w", err)
	}
	var modules []goModuleMeta
	if err := json.Unmarshal(raw, &modules); err != nil {
		return nil, fmt.Errorf("vulnerability index: %w", err)
	}
	ids := map[string][]string{}
	for _, m := range modules {
		for _, v := range m.Vulns {
			ids[m.Path] = append(ids[m.Path], v.ID)
		}
	}
	byModule := map[string][]GoPackage{}
	for _, p := range linked {
		mod, ver := p.Module, p.Version
		if mod == "" {
			mod, ver = "stdlib", strings.TrimPrefix(goVersion, "go")
		}
		if len(ids[mod]) > 0 && ver != "" {
			byModule[mod] = append(byModule[mod], GoPackage{ImportPath: p.ImportPath, Module: mod, Version: ver})
		}
	}
	seen := map[string]bool{}
	var out []string
	for mod, pkgs := range byModule {
		for _, id := range ids[mod] {
			e, err := readGoEntry(dir, id)
			if err != nil {
				return nil, err
			}
			for _, a := range e.Affected {
				if a.Package.Name != mod || !affectsVersion(a.Ranges, pkgs[0].Version) {
					continue
				}
				named := map[string]bool{}
				for _, imp := range a.EcosystemSpecific.Imports {
					named[imp.Path] = true
				}
				for _, p := range pkgs {
					if (len(named) == 0 || named[p.ImportPath]) && !seen[id+" "+p.ImportPath] {
						seen[id+" "+p.ImportPath] = true
						out = append(out, id+" "+p.ImportPath)
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func readGoEntry(dir, id string) (*goEntry, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "ID", id+".json")) // #nosec G304 -- an entry the database's own index names
	if err != nil {
		return nil, fmt.Errorf("vulnerability entry %s: %w", id, err)
	}
	var e goEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("vulnerability entry %s: %w", id, err)
	}
	return &e, nil
}

// affectsVersion reports whether a Go version (semver without "v", or a
// module version with it) falls in one of the SEMVER ranges; a version
// that does not parse counts as affected, so nothing is missed.
func affectsVersion(ranges []Range, version string) bool {
	v := "v" + strings.TrimPrefix(version, "v")
	if !semver.IsValid(v) {
		return true
	}
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		in := false
		for _, ev := range r.Events {
			switch {
			case ev.Introduced != "":
				if ev.Introduced == "0" || semver.Compare(v, "v"+ev.Introduced) >= 0 {
					in = true
				}
			case ev.Fixed != "":
				if in && semver.Compare(v, "v"+ev.Fixed) >= 0 {
					in = false
				}
			case ev.LastAffected != "":
				if in && semver.Compare(v, "v"+ev.LastAffected) > 0 {
					in = false
				}
			}
		}
		if in {
			return true
		}
	}
	return false
}
