package ci

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBenchMarkdown(t *testing.T) {
	r := &Result{Tasks: 24, CPUs: 2, Go: "go1.27.3", Commit: "0123456789abcdef", Load: []string{"3.1", "2.5"},
		Fresh: 400, Base: "fedcba9876543210", BaseCold: 200, Cold: 70, BaseRatio: 0.35, ColdSerial: 100, Ratio: 0.7,
		Warm: 0.8, WarmCached: 24, GoEdit: 25, GoEditRan: []string{"go-test-rest", "gosec"}, PyEdit: 12, PyEditRan: []string{"pytest-3.11"},
		MageStartup: 0.3, Failed: []string{"govulncheck"}, Excluded: []string{"govulncheck"}, PerCheck: []CheckTime{{Name: "go-test-e2e", Cold: 50, Serial: 40, ColdCPU: 90, SerialCPU: 70}, {Name: "gosec", Cold: 10, Serial: 10, ColdCPU: 12, SerialCPU: 10}}}
	md := r.Markdown()
	assert.Contains(t, md, "fresh clone of 0123456789ab: 24 checks, 2 CPUs, go1.27.3, load average 3.1 → 2.5")
	assert.Contains(t, md, "| (a) fresh clone, no tool built | 400.0 | ≤ 480 | met |")
	assert.Contains(t, md, "| (b) of fedcba987654, the base, run just before (b) | 200.0 | | |")
	assert.Contains(t, md, "| (b) cold, tools built (`-nocache`) | 70.0 (0.35 of the base) | ≤ 0.40 of the base | met |")
	assert.Contains(t, md, "| (b) / (c) | 0.70 | ≤ 0.65 | missed |")
	assert.Contains(t, md, "| (d) warm, all cached (24 of 24 checks cached), mage start-up included | 0.80 | < 1 | met |")
	assert.Contains(t, md, "| 25.0 | ≤ 20 | missed |")
	assert.Contains(t, md, "Re-run by (e): go-test-rest, gosec.")
	assert.Contains(t, md, "Checks that failed in (b): govulncheck.")
	assert.Contains(t, md, "Left out of (d), (e) and (f) (a failure is never cached): govulncheck.")
	assert.Contains(t, md, "| go-test-e2e | 50.0 | 40.0 | 90.0 | 70.0 |")
	assert.Contains(t, md, "CPU of the checks' commands: (b) 102 s, (c) 80 s. On 2 CPUs (c)'s work takes at least 40 s, so (b) / (c) ≥ 0.40.")
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 0.0, median(nil))

	r.BaseCold, r.PyEdit = 0, 0
	assert.Contains(t, r.Markdown(), "| (b) cold, tools built (`-nocache`) | 70.0 | | |")
	assert.Contains(t, r.Markdown(), "| (f) after a one-line edit of a Python file | 0.0 | ≤ 30 | not measured |", "a bench cut short")
}

func TestBenchOneLineEdit(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.go"), []byte("package a\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.py"), []byte("x = 1\n"), 0o644))
	require.NoError(t, appendLine(filepath.Join(dir, "a.go")))
	require.NoError(t, appendLine(filepath.Join(dir, "b.py")))
	assert.Equal(t, "package a\n// bench: a one-line edit\n", readFile(t, dir, "a.go"))
	assert.Equal(t, "x = 1\n# bench: a one-line edit\n", readFile(t, dir, "b.py"))
	require.Error(t, appendLine(filepath.Join(dir, "missing.go")))

	src, dst := t.TempDir(), t.TempDir()
	require.NoError(t, shareCaches(src, filepath.Join(dst, ".cache")))
	link, err := os.Readlink(filepath.Join(dst, ".cache", "tools"))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(src, "tools"), link)
	require.Error(t, shareCaches(src, filepath.Join(dst, ".cache")), "an existing cache is not replaced")
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	return string(b)
}
