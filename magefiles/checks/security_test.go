package checks

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
)

const shellCall = `def run_command(command: str) -> int:
    """Run a shell command."""
    return subprocess.call(command, shell=True)
`

func TestBanditRealRun(t *testing.T) {
	root := fixture(t)
	cfg := testConfig(t, root, env{})

	t.Run("clean payload passes with an empty SARIF", func(t *testing.T) {
		res, _ := runOne(t, cfg, Bandit(cfg))
		require.Equal(t, pipeline.StatusPass, res.Status, res.Error)
		assert.Equal(t, "no issues", res.Summary)
		log := readSARIFFile(t, filepath.Join(root, "artifacts", "security", "bandit.sarif"))
		assert.Empty(t, log.Runs[0].Results)
		assert.Equal(t, "Bandit", log.Runs[0].Tool.Driver.Name)
	})

	t.Run("shell=True fails with file:line and rule", func(t *testing.T) {
		writeFile(t, root, "src/fixture/shell.py", "\"\"\"Shell helpers.\"\"\"\n\nimport subprocess\n\n\n"+shellCall)
		res, _ := runOne(t, cfg, Bandit(cfg))
		require.Equal(t, pipeline.StatusFail, res.Status)
		assert.Contains(t, res.Error, "src/fixture/shell.py:8 [B602]")
		assert.True(t, findingAt(res.Findings, "src/fixture/shell.py", 8, "B602"), "%+v", res.Findings)
		assert.True(t, findingAt(res.Findings, "src/fixture/shell.py", 3, "B404"), "the low-severity import is reported too")

		log := readSARIFFile(t, filepath.Join(root, "artifacts", "security", "bandit.sarif"))
		var b602 *sarifResult
		for i, r := range log.Runs[0].Results {
			if r.RuleID == "B602" {
				b602 = &log.Runs[0].Results[i]
			}
		}
		require.NotNil(t, b602)
		assert.Equal(t, "error", b602.Level)
		file, line, _ := b602.location()
		assert.Equal(t, "src/fixture/shell.py", file)
		assert.Equal(t, 8, line)
		var ids []string
		for _, r := range log.Runs[0].Tool.Driver.Rules {
			ids = append(ids, r.ID)
		}
		assert.Equal(t, []string{"B404", "B602"}, ids)
	})

	t.Run("a threshold above the findings passes and keeps them as notices", func(t *testing.T) {
		cfg := testConfig(t, root, env{"CI_SECURITY_SEVERITY": "high"})
		require.NoError(t, os.WriteFile(filepath.Join(root, "src", "fixture", "shell.py"),
			[]byte("\"\"\"Shell helpers.\"\"\"\n\nimport subprocess\n"), 0o644))
		res, _ := runOne(t, cfg, Bandit(cfg))
		require.Equal(t, pipeline.StatusPass, res.Status, res.Error)
		assert.Equal(t, "1 low (below threshold)", res.Summary)
		require.Len(t, res.Findings, 1)
		assert.Equal(t, "notice", res.Findings[0].Severity)
	})

	t.Run("an unknown threshold is an error", func(t *testing.T) {
		cfg := testConfig(t, root, env{"CI_SECURITY_SEVERITY": "critical"})
		res, _ := runOne(t, cfg, Bandit(cfg))
		assert.Equal(t, pipeline.StatusFail, res.Status)
		assert.Contains(t, res.Error, "want low, medium or high")
	})
}

func TestBanditSkipsWithoutSrc(t *testing.T) {
	root := t.TempDir()
	cfg := testConfig(t, root, env{})
	res, _ := runOne(t, cfg, Bandit(cfg))
	assert.Equal(t, pipeline.StatusSkipped, res.Status)
	assert.Equal(t, "no src/ directory", res.Reason)
}

func TestBanditSARIFFromNewerBandit(t *testing.T) {
	// Newer bandits add col_offset and issue_cwe; both reach the SARIF.
	rep, err := parseBandit([]byte(`{"errors": [{"filename": "src/x.py", "reason": "syntax error while parsing AST from file"}],
		"results": [{"filename": "./src/a.py", "line_number": 4, "col_offset": 7, "test_id": "B602",
		"test_name": "subprocess_popen_with_shell_equals_true", "issue_severity": "HIGH", "issue_confidence": "HIGH",
		"issue_text": "shell=True", "more_info": "https://example.invalid/b602", "issue_cwe": {"id": 78}}]}`))
	require.NoError(t, err)
	log := banditSARIF(rep, "/repo", "1.7.10")
	r := log.Runs[0].Results[0]
	file, line, col := r.location()
	assert.Equal(t, []any{"src/a.py", 4, 8}, []any{file, line, col})
	assert.Equal(t, []string{"CWE-78"}, log.Runs[0].Tool.Driver.Rules[0].Properties["tags"])
	assert.Equal(t, "1.7.10", log.Runs[0].Tool.Driver.Version)
	require.Len(t, rep.Errors, 1)
}

func TestGosecGolden(t *testing.T) {
	// testdata/golden/gosec.sarif is gosec v2.30.0's real output on the
	// fixture with calc/weak.go (math/rand, md5, an ignored error).
	b, err := os.ReadFile(filepath.Join("testdata", "golden", "gosec.sarif"))
	require.NoError(t, err)
	fs, err := gosecFindings(b, "/repo")
	require.NoError(t, err)
	got := map[string]string{}
	for _, f := range fs {
		got[f.Rule] = f.Severity
		assert.Equal(t, "calc/weak.go", f.File)
		assert.Positive(t, f.Line)
	}
	// The severity comes from the rule's tag, not gosec's level (G104 is
	// LOW but gosec calls it a warning).
	assert.Equal(t, map[string]string{"G404": "HIGH", "G401": "MEDIUM", "G104": "LOW"}, got)

	_, err = gosecFindings([]byte(`{"version": "1.0", "runs": []}`), "/repo")
	assert.ErrorContains(t, err, "want 2.1.0")
}

func TestGosecRealRun(t *testing.T) {
	requireTool(t, "gosec")
	root := fixture(t)
	cfg := testConfig(t, root, env{})
	res, _ := runOne(t, cfg, Gosec(cfg))
	require.Equal(t, pipeline.StatusPass, res.Status, res.Error)

	writeFile(t, root, "calc/weak.go", "package calc\n\nimport \"math/rand\"\n\n// Roll rolls a die.\nfunc Roll() int {\n\treturn rand.Intn(6) + 1\n}\n")
	res, _ = runOne(t, cfg, Gosec(cfg))
	require.Equal(t, pipeline.StatusFail, res.Status)
	assert.True(t, findingAt(res.Findings, "calc/weak.go", 7, "G404"), "%+v", res.Findings)
	readSARIFFile(t, filepath.Join(root, "artifacts", "security", "gosec.sarif"))
}

func readSARIFFile(t *testing.T, path string) sarifLog {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	log, err := readSARIF(b)
	require.NoError(t, err)
	require.Len(t, log.Runs, 1)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	assert.NotEmpty(t, raw["$schema"])
	return log
}

// TestGosecAnalysesOnlyChangedPackages: each package is keyed by its
// import closure; an edit analyses the packages that import what changed,
// and the others' findings come from their records, still failing the
// check and still in the SARIF report, named from the root.
func TestGosecAnalysesOnlyChangedPackages(t *testing.T) {
	requireTool(t, "gosec")
	root := fixture(t)
	writeFile(t, root, "dice/dice.go", "// Package dice rolls.\npackage dice\n\nimport \"math/rand\"\n\n// Roll rolls a die.\nfunc Roll() int {\n\treturn rand.Intn(6) + 1\n}\n")
	cfg := testConfig(t, root, env{})
	once := func() (pipeline.Result, string) {
		t.Helper()
		rep, out := run(t, cfg, []pipeline.Task{Gosec(cfg)})
		r, ok := rep.Result("gosec")
		require.True(t, ok)
		return r, out
	}
	res, _ := once()
	require.Equal(t, pipeline.StatusFail, res.Status)
	assert.True(t, findingAt(res.Findings, "dice/dice.go", 8, "G404"), "%+v", res.Findings)

	appendFile(t, root, "calc/calc.go", "\n// Sub returns a minus b.\nfunc Sub(a, b int) int { return a - b }\n")
	res, out := once()
	require.Equal(t, pipeline.StatusFail, res.Status, "dice's finding is kept")
	assert.Contains(t, out, "analysing 1 of 2 packages (the others unchanged since they were analysed): calc")
	assert.True(t, findingAt(res.Findings, "dice/dice.go", 8, "G404"), "%+v", res.Findings)
	log := readSARIFFile(t, filepath.Join(root, "artifacts", "security", "gosec.sarif"))
	require.Len(t, log.Runs[0].Results, 1)
	file, _, _ := log.Runs[0].Results[0].location()
	assert.Equal(t, "dice/dice.go", file)
	require.Len(t, log.Runs[0].Tool.Driver.Rules, 1, "the kept finding's rule is in the report")

	writeFile(t, root, "calc/weak.go", "package calc\n\nimport \"math/rand\"\n\n// Pick picks.\nfunc Pick() int {\n\treturn rand.Intn(3)\n}\n")
	res, out = once()
	require.Equal(t, pipeline.StatusFail, res.Status)
	assert.Contains(t, out, "analysing 1 of 2 packages")
	assert.True(t, findingAt(res.Findings, "calc/weak.go", 7, "G404"), "a package analysed alone is named from the root: %+v", res.Findings)
	assert.True(t, findingAt(res.Findings, "dice/dice.go", 8, "G404"), "%+v", res.Findings)

	writeFile(t, root, "dice/dice.go", "// Package dice rolls.\npackage dice\n\n// Roll rolls a die.\nfunc Roll() int { return 4 }\n")
	require.NoError(t, os.Remove(filepath.Join(root, "calc", "weak.go")))
	res, _ = once()
	assert.Equal(t, pipeline.StatusPass, res.Status, res.Error)
}
