package checks

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/checks/osv"
	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
)

// pypiDB writes a small PyPI advisory database: requests before 2.20.0 is
// vulnerable (PYSEC-2018-28 in the real world; planted here).
func pypiDB(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "osv")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "PyPI"), 0o755))
	entries := []osv.Entry{
		{ID: "PYSEC-TEST-1", Aliases: []string{"CVE-2018-18074"}, Summary: "requests sends credentials on redirect",
			Affected: []osv.Affected{{Package: osv.Package{Name: "requests", Ecosystem: "PyPI"},
				Ranges: []osv.Range{{Type: "ECOSYSTEM", Events: []osv.Event{{Introduced: "0"}, {Fixed: "2.20.0"}}}}}}},
		{ID: "PYSEC-TEST-2", Summary: "an old pyyaml",
			Affected: []osv.Affected{{Package: osv.Package{Name: "PyYAML", Ecosystem: "PyPI"},
				Ranges: []osv.Range{{Type: "ECOSYSTEM", Events: []osv.Event{{Introduced: "0"}, {Fixed: "5.4"}}}}}}},
	}
	for _, e := range entries {
		b, err := json.Marshal(e)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "PyPI", e.ID+".json"), b, 0o644))
	}
	return dir
}

// goDB builds a govulncheck database from testdata/vulndb/go: planted
// advisories for strings.ToUpper (GO-2099-0001, the fixture calls it) and
// strings.Title (GO-2099-0002, it does not); ids picks some, none = all.
func goDB(t testing.TB, ids ...string) string {
	t.Helper()
	src := filepath.Join("testdata", "vulndb", "go")
	if len(ids) > 0 {
		src = t.TempDir()
		for _, id := range ids {
			b, err := os.ReadFile(filepath.Join("testdata", "vulndb", "go", id+".json"))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(src, id+".json"), b, 0o644))
		}
	}
	dst := filepath.Join(t.TempDir(), "govulndb")
	_, err := osv.BuildGoIndex(src, dst, time.Now())
	require.NoError(t, err)
	return dst
}

func TestReqAudit(t *testing.T) {
	db := pypiDB(t)
	tests := []struct {
		name         string
		requirements string
		env          env
		status       pipeline.Status
		contains     string
	}{
		{"clean pins pass", "requests==2.31.0\npyyaml>=6.0,<7\n", env{"CI_VULN_DB": db}, pipeline.StatusPass, ""},
		{"a planted vulnerable pin fails at its line", "# serving\npyyaml>=6.0\nrequests==2.19.0\n", env{"CI_VULN_DB": db},
			pipeline.StatusFail, "requirements.txt:3: requests==2.19.0 is affected by PYSEC-TEST-1 (CVE-2018-18074): requests sends credentials on redirect (fixed in 2.20.0)"},
		{"a range admitting a vulnerable version fails", "pyyaml>=5.1,<7\n", env{"CI_VULN_DB": db},
			pipeline.StatusFail, "pyyaml>=5.1,<7 admits versions affected by PYSEC-TEST-2"},
		{"osv-scanner's variable is read too", "requests==2.19.0\n", env{"OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY": db},
			pipeline.StatusFail, "PYSEC-TEST-1"},
		{"no database is a skip, never a pass", "requests==2.19.0\n", env{}, pipeline.StatusSkipped, ""},
		{"no database in strict mode fails", "requests==2.19.0\n", env{}, pipeline.StatusFail, "offline, no vulnerability database (strict mode requires one"},
		{"an empty database is no database", "requests==2.19.0\n", env{"CI_VULN_DB": t.TempDir()}, pipeline.StatusSkipped, ""},
		{"an unreadable requirement fails at its line", "requests==2.31.0\nnot a requirement!!\n", env{"CI_VULN_DB": db},
			pipeline.StatusFail, "requirements.txt:2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fixture(t)
			writeFile(t, root, "requirements.txt", tt.requirements)
			cfg := testConfig(t, root, tt.env)
			cfg.Strict = strings.Contains(tt.name, "strict")
			res, out := runOne(t, cfg, ReqAudit(cfg))
			require.Equal(t, tt.status, res.Status, "%s\n%s", res.Error, out)
			if tt.status == pipeline.StatusSkipped {
				assert.Equal(t, "offline, no vulnerability database", res.Reason)
				assert.Contains(t, out, "CI_VULN_DB")
			}
			if tt.contains != "" {
				assert.Contains(t, res.Error, tt.contains)
			}
			if tt.status == pipeline.StatusFail && tt.contains != "" && strings.HasPrefix(tt.contains, "requirements.txt:3") {
				assert.True(t, findingAt(res.Findings, "requirements.txt", 3, "PYSEC-TEST-1"), "%+v", res.Findings)
			}
		})
	}
}

func TestVulnIgnore(t *testing.T) {
	db := pypiDB(t)
	root := fixture(t)
	writeFile(t, root, "requirements.txt", "requests==2.19.0\n")
	cfg := testConfig(t, root, env{"CI_VULN_DB": db})

	writeFile(t, root, vulnIgnoreFile, "ignore:\n  - id: PYSEC-TEST-1\n    until: 2999-12-31\n    reason: only used against our own endpoint\n")
	res, _ := runOne(t, cfg, ReqAudit(cfg))
	require.Equal(t, pipeline.StatusPass, res.Status, res.Error)
	assert.Equal(t, "1 requirements, 1 accepted advisories", res.Summary)
	require.Len(t, res.Findings, 1)
	assert.Equal(t, "notice", res.Findings[0].Severity)
	assert.Contains(t, res.Findings[0].Message, "accepted until 2999-12-31: only used against our own endpoint")

	writeFile(t, root, vulnIgnoreFile, "ignore:\n  - id: PYSEC-TEST-1\n    until: 2020-01-01\n    reason: expired\n")
	res, _ = runOne(t, cfg, ReqAudit(cfg))
	assert.Equal(t, pipeline.StatusFail, res.Status, "an expired acceptance hides nothing")

	for name, content := range map[string]string{
		"no reason":    "ignore:\n  - id: X\n    until: 2999-01-01\n",
		"bad date":     "ignore:\n  - id: X\n    until: soon\n    reason: r\n",
		"not a list":   "ignore: X\n",
		"invalid yaml": "ignore: [\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseVulnIgnore([]byte(content))
			require.Error(t, err)
			assert.Contains(t, err.Error(), vulnIgnoreFile)
		})
	}
}

func TestGovulncheckGolden(t *testing.T) {
	// testdata/golden/govulncheck.json is govulncheck v1.9.0's real output
	// on the fixture with the database of testdata/vulndb/go.
	f, err := os.Open(filepath.Join("testdata", "golden", "govulncheck.json"))
	require.NoError(t, err)
	defer f.Close()
	res, err := parseGovulncheck(f, "/repo")
	require.NoError(t, err)
	assert.Equal(t, "go1.26.8", res.GoVer)
	require.Len(t, res.Findings, 2)

	called, notCalled := res.Findings[0], res.Findings[1]
	assert.Equal(t, "GO-2099-0001", called.ID)
	assert.True(t, called.Called)
	assert.Equal(t, "stdlib", called.Module)
	assert.Equal(t, "v1.99.0", called.Fixed)
	assert.Equal(t, "Planted test vulnerability in strings.ToUpper", called.Summary)
	require.Len(t, called.Sites, 1)
	assert.Equal(t, "calc/calc.go", called.Sites[0].File)
	assert.Equal(t, 13, called.Sites[0].Line)
	assert.Equal(t, "Shout calls vulnerable strings.ToUpper", called.Sites[0].Message)
	assert.Contains(t, called.fixHint(), "fixed in go1.99.0: upgrade Go")

	assert.Equal(t, "GO-2099-0002", notCalled.ID)
	assert.False(t, notCalled.Called, "imported but not called is informational")
	assert.True(t, notCalled.Imported)
}

func TestGovulncheckRealRun(t *testing.T) {
	requireTool(t, "govulncheck")
	root := fixture(t)
	cfg := testConfig(t, root, env{"CI_GOVULN_DB": goDB(t)})

	res, out := runOne(t, cfg, Govulncheck(cfg))
	require.Equal(t, pipeline.StatusFail, res.Status, out)
	// The standard library scanned is the Go running the check.
	assert.Contains(t, res.Error, "GO-2099-0001 in stdlib@v"+strings.TrimPrefix(runtime.Version(), "go"))
	assert.Contains(t, res.Error, "from calc/calc.go:13")
	assert.True(t, findingAt(res.Findings, "calc/calc.go", 13, "GO-2099-0001"))
	assert.Equal(t, "1 called, 1 not called", res.Summary)
	_, err := os.Stat(filepath.Join(root, "artifacts", "audit", "govulncheck.json"))
	require.NoError(t, err)

	writeFile(t, root, vulnIgnoreFile, "ignore:\n  - id: GO-2099-0001\n    until: 2999-01-01\n    reason: planted by the test\n")
	res, out = runOne(t, cfg, Govulncheck(cfg))
	require.Equal(t, pipeline.StatusPass, res.Status, out)
	assert.Equal(t, "0 called, 1 accepted, 1 not called", res.Summary)
}

func TestScannedGoBuildsProject(t *testing.T) {
	tests := []struct {
		name    string
		goMod   string
		scanned string
		err     string
	}{
		{"the go line's Go was scanned", "module m\n\ngo 1.27.3\n", "go1.27.3", ""},
		{"a newer Go was scanned", "module m\n\ngo 1.27.3\n", "go1.27.4", ""},
		{"an older Go was scanned", "module m\n\ngo 1.27.3\n", "go1.26.8", "scanned the standard library of go1.26.8, but go.mod builds with go1.27.3: export GOTOOLCHAIN=go1.27.3"},
		{"the toolchain line wins over the go line", "module m\n\ngo 1.26\n\ntoolchain go1.27.3\n", "go1.27.0", "go.mod builds with go1.27.3"},
		{"a language-only go line", "module m\n\ngo 1.26\n", "go1.26.8", ""},
		{"no version in the output", "module m\n\ngo 1.27.3\n", "", "did not say which Go it scanned"},
		{"no go line accepts any Go", "module m\n", "go1.20", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, root, "go.mod", tt.goMod)
			err := scannedGoBuildsProject(tt.scanned, root)
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
	t.Run("no go.mod", func(t *testing.T) {
		require.NoError(t, scannedGoBuildsProject("go1.20", t.TempDir()))
	})
}

func TestProjectGoIsScanned(t *testing.T) {
	// This repository's go.mod and the Go running its tests: the CI
	// entry points export GOTOOLCHAIN, so the two agree.
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.NoError(t, scannedGoBuildsProject(runtime.Version(), root))
}

func TestGovulncheckOffline(t *testing.T) {
	tests := []struct {
		name   string
		env    env
		strict bool
		status pipeline.Status
		text   string
	}{
		{"CI_OFFLINE without a database skips", env{"CI_OFFLINE": "1"}, false, pipeline.StatusSkipped, "offline, no vulnerability database"},
		{"an unreachable module proxy skips", env{"GOPROXY": "off", "GOFLAGS": "-modcacherw"}, false, pipeline.StatusSkipped, "offline, no vulnerability database"},
		{"strict mode makes it a failure", env{"CI_OFFLINE": "1"}, true, pipeline.StatusFail, "strict mode requires one"},
		{"a missing configured database is an error", env{"CI_GOVULN_DB": "/nonexistent/db"}, false, pipeline.StatusFail, "CI_GOVULN_DB=/nonexistent/db: not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fixture(t)
			e := tt.env
			if e["GOPROXY"] == "off" {
				e["GOMODCACHE"] = t.TempDir() // nothing cached: the download must fail
			}
			cfg := testConfig(t, root, e)
			cfg.Strict = tt.strict
			res, _ := runOne(t, cfg, Govulncheck(cfg))
			require.Equal(t, tt.status, res.Status, res.Error)
			if tt.status == pipeline.StatusSkipped {
				assert.Equal(t, tt.text, res.Reason)
			} else {
				assert.Contains(t, res.Error, tt.text)
			}
		})
	}
}

func TestGoVulnDBFromTheVulndbModule(t *testing.T) {
	// Through the local module cache when the module is already there
	// (mage ci fetched it); never a network test.
	root := fixture(t)
	cfg := testConfig(t, root, env{"GOPROXY": "off", "GOFLAGS": "-mod=mod"})
	dir, err := goVulnDB(context.Background(), cfg, func(string) {})
	if _, skip := pipeline.IsSkip(err); skip {
		t.Skip("the pinned vulndb module is not in the module cache yet")
	}
	require.NoError(t, err)
	assert.True(t, osv.GoDBReady(dir))
	assert.Equal(t, filepath.Join(root, ".cache", "vulndb"), filepath.Dir(dir))
}

func TestPseudoVersionTime(t *testing.T) {
	assert.Equal(t, time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC), pseudoVersionTime("v0.0.0-20261105234957-e22db6528018"))
	assert.True(t, pseudoVersionTime("v1.2.3").IsZero())
}

// TestGovulncheckKeyFollowsWhatIsLinked: while no linked package is
// covered by an advisory, an edit that links nothing new leaves the check
// cached; planting a call to a vulnerable function, directly or through an
// interface whose dynamic type comes from the vulnerable package, links
// it, so the check runs again and fails.
func TestGovulncheckKeyFollowsWhatIsLinked(t *testing.T) {
	requireTool(t, "govulncheck")
	dst := filepath.Join(t.TempDir(), "govulndb")
	_, err := osv.BuildGoIndex(filepath.Join("testdata", "vulndb", "planted"), dst, time.Now())
	require.NoError(t, err)

	plants := []struct {
		name  string
		files map[string]string
		from  string
	}{
		{"a direct call", map[string]string{
			"calc/table.go": "package calc\n\nimport (\n\t\"os\"\n\t\"text/tabwriter\"\n)\n\n// Table writes a row.\nfunc Table(row string) {\n\tw := tabwriter.NewWriter(os.Stdout, 0, 8, 1, ' ', 0)\n\t_, _ = w.Write([]byte(row))\n}\n",
		}, "calc/table.go:11"},
		{"a call through an interface", map[string]string{
			// calc itself imports only io: the writer's dynamic type
			// comes from another package of the module.
			"calc/out/out.go": "// Package out hands out the fixture's writer.\npackage out\n\nimport (\n\t\"io\"\n\t\"os\"\n\t\"text/tabwriter\"\n)\n\n// Writer is where rows go.\nfunc Writer() io.Writer { return tabwriter.NewWriter(os.Stdout, 0, 8, 1, ' ', 0) }\n",
			"calc/print.go":   "package calc\n\nimport \"example.com/fixture/calc/out\"\n\n// Print writes s.\nfunc Print(s string) {\n\tw := out.Writer()\n\t_, _ = w.Write([]byte(s))\n}\n",
		}, "calc/print.go:8"},
	}
	for _, p := range plants {
		t.Run(p.name, func(t *testing.T) {
			root := fixture(t)
			cfg := testConfig(t, root, env{"CI_GOVULN_DB": dst})
			once := func() pipeline.Result {
				t.Helper()
				rep, out := run(t, cfg, []pipeline.Task{Govulncheck(cfg)})
				r, ok := rep.Result("govulncheck")
				require.True(t, ok, out)
				return r
			}
			require.Equal(t, pipeline.StatusPass, once().Status)

			appendFile(t, root, "calc/calc.go", "\n// Sub returns a minus b.\nfunc Sub(a, b int) int { return a - b }\n")
			assert.Equal(t, pipeline.StatusCached, once().Status, "an edit that links nothing new keeps the result")

			for rel, content := range p.files {
				writeFile(t, root, rel, content)
			}
			r := once()
			require.Equal(t, pipeline.StatusFail, r.Status, "the plant links text/tabwriter: the check runs and finds the call")
			assert.Contains(t, r.Error, "GO-2099-0003")
			assert.Contains(t, r.Error, "from "+p.from)
		})
	}
}

// TestGovulncheckKeyIsEveryGoFileOnceACoveredPackageIsLinked: the fixture
// links strings, which GO-2099-0002 covers (its symbol is not called): any
// Go edit may now reach it, so any Go edit runs the check again.
func TestGovulncheckKeyIsEveryGoFileOnceACoveredPackageIsLinked(t *testing.T) {
	requireTool(t, "govulncheck")
	root := fixture(t)
	cfg := testConfig(t, root, env{"CI_GOVULN_DB": goDB(t, "GO-2099-0002")})
	once := func() pipeline.Status {
		t.Helper()
		rep, out := run(t, cfg, []pipeline.Task{Govulncheck(cfg)})
		r, ok := rep.Result("govulncheck")
		require.True(t, ok, out)
		return r.Status
	}
	require.Equal(t, pipeline.StatusPass, once())
	require.Equal(t, pipeline.StatusCached, once())
	appendFile(t, root, "calc/calc.go", "\n// Sub returns a minus b.\nfunc Sub(a, b int) int { return a - b }\n")
	assert.Equal(t, pipeline.StatusPass, once(), "ran again")
}
