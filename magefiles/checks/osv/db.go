// Package osv reads OSV vulnerability advisories from a local database and
// matches them against pip requirements (PEP 440 versions and specifiers),
// and builds the index that turns the Go vulnerability data into a
// database govulncheck reads offline.
package osv

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Entry is an OSV advisory (the fields used here).
type Entry struct {
	ID       string     `json:"id"`
	Modified time.Time  `json:"modified"`
	Aliases  []string   `json:"aliases,omitempty"`
	Summary  string     `json:"summary,omitempty"`
	Details  string     `json:"details,omitempty"`
	Affected []Affected `json:"affected"`
}

// Affected names a package and the versions an advisory covers.
type Affected struct {
	Package  Package  `json:"package"`
	Ranges   []Range  `json:"ranges,omitempty"`
	Versions []string `json:"versions,omitempty"`
}

// Package identifies a package in an ecosystem.
type Package struct {
	Name      string `json:"name"`
	Ecosystem string `json:"ecosystem"`
}

// Range is a sequence of events over one versioning scheme.
type Range struct {
	Type   string  `json:"type"` // ECOSYSTEM, SEMVER, GIT
	Events []Event `json:"events"`
}

// Event opens or closes an affected span.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Title is the advisory's ID with its first alias, e.g.
// "GHSA-x (CVE-2024-1)".
func (e Entry) Title() string {
	if len(e.Aliases) > 0 {
		return e.ID + " (" + strings.Join(e.Aliases, ", ") + ")"
	}
	return e.ID
}

// DB holds the advisories of one ecosystem, by normalized package name.
type DB struct {
	Ecosystem string
	Source    string // where it was read from, for messages
	byName    map[string][]Entry
	count     int
}

// Len is the number of advisories loaded.
func (db *DB) Len() int { return db.count }

// ErrNoDatabase is returned when a directory holds no advisories for the
// ecosystem: an empty database must never read as "no vulnerabilities".
type ErrNoDatabase struct{ Dir, Ecosystem string }

func (e *ErrNoDatabase) Error() string {
	return fmt.Sprintf("%s holds no %s advisories", e.Dir, e.Ecosystem)
}

// Load reads the ecosystem's advisories under dir. It accepts the layouts
// in use: osv-scanner's offline cache (<dir>/osv-scalibr/<Eco>/all.zip),
// the OSV bucket's export (<dir>/<Eco>/all.zip or <dir>/<Eco>/*.json), and
// a flat directory of advisories (<dir>/*.json, <dir>/*.zip), filtered by
// ecosystem.
func Load(dir, ecosystem string) (*DB, error) {
	db := &DB{Ecosystem: ecosystem, Source: dir, byName: map[string][]Entry{}}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("vulnerability database %s: not a directory", dir)
	}
	scope := dir
	for _, sub := range []string{filepath.Join("osv-scalibr", ecosystem), ecosystem} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err == nil && fi.IsDir() {
			scope = filepath.Join(dir, sub)
			break
		}
	}
	names, err := os.ReadDir(scope)
	if err != nil {
		return nil, fmt.Errorf("read vulnerability database %s: %w", scope, err)
	}
	for _, d := range names {
		if d.IsDir() {
			continue
		}
		p := filepath.Join(scope, d.Name())
		switch strings.ToLower(filepath.Ext(d.Name())) {
		case ".json":
			// #nosec G304 -- a file of the advisory database directory the operator named (CI_VULN_DB)
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", p, err)
			}
			if err := db.add(b, p); err != nil {
				return nil, err
			}
		case ".zip":
			if err := db.addZip(p); err != nil {
				return nil, err
			}
		}
	}
	if db.count == 0 {
		return nil, &ErrNoDatabase{Dir: dir, Ecosystem: ecosystem}
	}
	for n := range db.byName {
		sort.Slice(db.byName[n], func(i, j int) bool { return db.byName[n][i].ID < db.byName[n][j].ID })
	}
	return db, nil
}

func (db *DB) addZip(p string) error {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if !strings.HasSuffix(strings.ToLower(f.Name), ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("open %s in %s: %w", f.Name, p, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
		_ = rc.Close()
		if err != nil {
			return fmt.Errorf("read %s in %s: %w", f.Name, p, err)
		}
		if err := db.add(b, p+"!"+f.Name); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) add(b []byte, where string) error {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return fmt.Errorf("parse advisory %s: %w", where, err)
	}
	counted := false
	for _, a := range e.Affected {
		if !strings.EqualFold(a.Package.Ecosystem, db.Ecosystem) {
			continue
		}
		name := NormalizeName(a.Package.Name)
		db.byName[name] = append(db.byName[name], e)
		if !counted {
			db.count++
			counted = true
		}
	}
	return nil
}

// Match is one advisory that a requirement admits.
type Match struct {
	Requirement Requirement
	Entry       Entry
	Fixed       []string // versions that fix it, from the advisory
	Pinned      bool     // the requirement names exactly one version
}

// Audit returns the advisories each requirement admits: for a pinned
// requirement, those affecting that version; for a range, those affecting
// any version in the range (raise the lower bound to a fixed version).
func (db *DB) Audit(reqs []Requirement) []Match {
	var out []Match
	for _, r := range reqs {
		in, excluded := r.allowed()
		seen := map[string]bool{}
		for _, e := range db.byName[r.Name] {
			if seen[e.ID] {
				continue
			}
			for _, a := range e.Affected {
				if !strings.EqualFold(a.Package.Ecosystem, db.Ecosystem) || NormalizeName(a.Package.Name) != r.Name {
					continue
				}
				if affects(a, in, excluded) {
					seen[e.ID] = true
					out = append(out, Match{Requirement: r, Entry: e, Fixed: fixedVersions(a), Pinned: r.Pinned()})
					break
				}
			}
		}
	}
	return out
}

// affects reports whether any version in the interval (minus excluded
// ones) is affected.
func affects(a Affected, in interval, excluded []Version) bool {
	if in.empty() {
		return false
	}
	for _, s := range a.Versions {
		v, err := ParseVersion(s)
		if err == nil && in.contains(v) && !isExcluded(v, excluded) {
			return true
		}
	}
	for _, r := range a.Ranges {
		if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
			continue
		}
		for _, span := range spans(r) {
			overlap := in.intersect(span)
			if overlap.empty() {
				continue
			}
			// A point overlap on an excluded version does not count.
			if overlap.lo.v != nil && overlap.hi.v != nil && overlap.lo.v.Compare(*overlap.hi.v) == 0 && isExcluded(*overlap.lo.v, excluded) {
				continue
			}
			return true
		}
	}
	return false
}

func isExcluded(v Version, excluded []Version) bool {
	for _, x := range excluded {
		if v.Compare(x) == 0 {
			return true
		}
	}
	return false
}

// spans turns a range's events into affected intervals: each introduced
// version opens one, the next fixed (exclusive) or last_affected
// (inclusive) closes it.
func spans(r Range) []interval {
	var out []interval
	var open *interval
	for _, ev := range r.Events {
		switch {
		case ev.Introduced != "":
			iv := everything
			if ev.Introduced != "0" {
				v, err := ParseVersion(ev.Introduced)
				if err != nil {
					continue
				}
				iv = atLeast(v, true)
			}
			if open != nil {
				out = append(out, *open) // unclosed span: affected onwards
			}
			open = &iv
		case ev.Fixed != "" && open != nil:
			if v, err := ParseVersion(ev.Fixed); err == nil {
				out = append(out, open.intersect(below(v, false)))
			}
			open = nil
		case ev.LastAffected != "" && open != nil:
			if v, err := ParseVersion(ev.LastAffected); err == nil {
				out = append(out, open.intersect(below(v, true)))
			}
			open = nil
		}
	}
	if open != nil {
		out = append(out, *open)
	}
	return out
}

func fixedVersions(a Affected) []string {
	var out []string
	for _, r := range a.Ranges {
		for _, ev := range r.Events {
			if ev.Fixed != "" {
				out = append(out, ev.Fixed)
			}
		}
	}
	return out
}
