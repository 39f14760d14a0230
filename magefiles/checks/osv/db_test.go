package osv

import (
	"archive/zip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// advisory builds a PyPI OSV entry affecting name in [introduced, fixed).
func advisory(id, name, introduced, fixed string) Entry {
	events := []Event{{Introduced: introduced}}
	if fixed != "" {
		events = append(events, Event{Fixed: fixed})
	}
	return Entry{ID: id, Summary: "planted " + id, Aliases: []string{"CVE-" + id},
		Affected: []Affected{{Package: Package{Name: name, Ecosystem: "PyPI"}, Ranges: []Range{{Type: "ECOSYSTEM", Events: events}}}}}
}

func writeEntries(t *testing.T, dir string, es ...Entry) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, e := range es {
		b, err := json.Marshal(e)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.ID+".json"), b, 0o644))
	}
}

func TestAudit(t *testing.T) {
	dir := t.TempDir()
	last := advisory("PYSEC-3", "pyyaml", "5.1", "")
	last.Affected[0].Ranges[0].Events = []Event{{Introduced: "5.1"}, {LastAffected: "5.3"}}
	listed := Entry{ID: "PYSEC-4", Affected: []Affected{{Package: Package{Name: "Flask", Ecosystem: "PyPI"}, Versions: []string{"0.12", "0.12.1"}}}}
	goEntry := Entry{ID: "GO-1", Affected: []Affected{{Package: Package{Name: "requests", Ecosystem: "Go"}}}}
	writeEntries(t, dir, advisory("PYSEC-1", "requests", "0", "2.20.0"), advisory("PYSEC-2", "mlflow", "2.0", "2.12.1"), last, listed, goEntry)
	db, err := Load(dir, "PyPI")
	require.NoError(t, err)
	assert.Equal(t, 4, db.Len(), "the Go entry is not a PyPI advisory")

	tests := []struct {
		req    string
		want   []string
		pinned bool
	}{
		{"requests==2.19.0", []string{"PYSEC-1"}, true},
		{"requests==2.20.0", nil, true},
		{"requests>=2.20", nil, false},
		{"requests>=2.0,<3", []string{"PYSEC-1"}, false},
		{"requests", []string{"PYSEC-1"}, false},
		{"mlflow>=2.9,<3", []string{"PYSEC-2"}, false},
		{"mlflow>=2.12.1,<3", nil, false},
		{"mlflow<2.0", nil, false},
		{"PyYAML==5.3", []string{"PYSEC-3"}, true},
		{"pyyaml==5.3.1", nil, true},
		{"flask==0.12.1", []string{"PYSEC-4"}, true},
		{"flask==0.12.2", nil, true},
		{"requests!=2.19.0,==2.19.0", nil, false},
		{"unknown==1.0", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.req, func(t *testing.T) {
			reqs, errs := ParseRequirements(strings.NewReader(tt.req+"\n"), "requirements.txt")
			require.Empty(t, errs)
			var got []string
			for _, m := range db.Audit(reqs) {
				got = append(got, m.Entry.ID)
				assert.Equal(t, tt.pinned, m.Pinned)
				assert.Equal(t, 1, m.Requirement.Line)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestLoadLayouts(t *testing.T) {
	entry := advisory("PYSEC-9", "requests", "0", "2.20.0")
	b, err := json.Marshal(entry)
	require.NoError(t, err)
	writeZip := func(t *testing.T, path string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		f, err := os.Create(path)
		require.NoError(t, err)
		zw := zip.NewWriter(f)
		w, err := zw.Create("PYSEC-9.json")
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		require.NoError(t, f.Close())
	}
	layouts := map[string]func(t *testing.T, dir string){
		"osv-scanner offline cache": func(t *testing.T, dir string) { writeZip(t, filepath.Join(dir, "osv-scalibr", "PyPI", "all.zip")) },
		"ecosystem export zip":      func(t *testing.T, dir string) { writeZip(t, filepath.Join(dir, "PyPI", "all.zip")) },
		"ecosystem dir of json":     func(t *testing.T, dir string) { writeEntries(t, filepath.Join(dir, "PyPI"), entry) },
		"flat dir of json":          func(t *testing.T, dir string) { writeEntries(t, dir, entry) },
	}
	for name, make := range layouts {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			make(t, dir)
			db, err := Load(dir, "PyPI")
			require.NoError(t, err)
			assert.Equal(t, 1, db.Len())
		})
	}
}

func TestLoadEmptyIsNotADatabase(t *testing.T) {
	_, err := Load(t.TempDir(), "PyPI")
	var none *ErrNoDatabase
	require.ErrorAs(t, err, &none)

	_, err = Load(filepath.Join(t.TempDir(), "missing"), "PyPI")
	require.Error(t, err)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{"), 0o644))
	_, err = Load(dir, "PyPI")
	require.ErrorContains(t, err, "bad.json")
}

func TestBuildGoIndex(t *testing.T) {
	src := filepath.Join("..", "testdata", "vulndb", "go")
	dst := filepath.Join(t.TempDir(), "db")
	stamp := time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC)
	n, err := BuildGoIndex(src, dst, stamp)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.True(t, GoDBReady(dst))

	var meta goDBMeta
	b, err := os.ReadFile(filepath.Join(dst, "index", "db.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &meta))
	assert.True(t, meta.Modified.Equal(stamp))

	var mods []goModuleMeta
	b, err = os.ReadFile(filepath.Join(dst, "index", "modules.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &mods))
	require.Len(t, mods, 1)
	assert.Equal(t, "stdlib", mods[0].Path)
	assert.Equal(t, []string{"GO-2099-0001", "GO-2099-0002"}, []string{mods[0].Vulns[0].ID, mods[0].Vulns[1].ID})

	_, err = os.Stat(filepath.Join(dst, "ID", "GO-2099-0001.json"))
	require.NoError(t, err, "entries are reachable under ID/")

	t.Run("misnamed entry", func(t *testing.T) {
		bad := t.TempDir()
		writeEntries(t, bad, Entry{ID: "GO-1"})
		require.NoError(t, os.Rename(filepath.Join(bad, "GO-1.json"), filepath.Join(bad, "GO-2.json")))
		_, err := BuildGoIndex(bad, filepath.Join(t.TempDir(), "db"), stamp)
		require.ErrorContains(t, err, "names must be <ID>.json")
	})
	t.Run("empty source", func(t *testing.T) {
		_, err := BuildGoIndex(t.TempDir(), filepath.Join(t.TempDir(), "db"), stamp)
		var none *ErrNoDatabase
		require.ErrorAs(t, err, &none)
	})
}
