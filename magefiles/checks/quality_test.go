package checks

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
)

// messyPython trips every Python quality tool once.
const messyPython = `import sys
import os
def half(x: int) -> str:
    y=1
    return x/2
`

func TestPythonQualityRealRun(t *testing.T) {
	root := fixture(t)
	cfg := testConfig(t, root, env{})
	tasks := []pipeline.Task{Black(cfg), Isort(cfg), Flake8(cfg), Pylint(cfg), Mypy(cfg)}

	rep, out := run(t, cfg, tasks)
	for _, r := range rep.Results {
		require.Equal(t, pipeline.StatusPass, r.Status, "%s: %s\n%s", r.Name, r.Error, out)
		assert.Equal(t, "clean", r.Summary, r.Name)
	}

	writeFile(t, root, "src/fixture/messy.py", messyPython)
	rep, _ = run(t, cfg, tasks)
	const file = "src/fixture/messy.py"
	tests := []struct {
		check, rule, errText string
		line                 int
	}{
		{"black", "black", "1 file(s) to reformat; first: src/fixture/messy.py:3: not formatted as black would; run: black src/fixture/messy.py", 3},
		{"isort", "isort", "1 file(s) with unsorted imports; first: src/fixture/messy.py:1: imports are not sorted; run: isort src/fixture/messy.py", 1},
		{"flake8", "F401", "5 finding(s); first: src/fixture/messy.py:1:1: 'sys' imported but unused [F401]", 1},
		{"flake8", "E225", "", 4},
		{"pylint", "C0114 missing-module-docstring", "", 1},
		{"pylint", "W0611 unused-import", "", 1},
		{"mypy", "return-value", "first: src/fixture/messy.py:5:12: Incompatible return value type (got \"float\", expected \"str\") [return-value]", 5},
	}
	for _, tt := range tests {
		t.Run(tt.check+" "+tt.rule, func(t *testing.T) {
			r, ok := rep.Result(tt.check)
			require.True(t, ok)
			require.Equal(t, pipeline.StatusFail, r.Status)
			assert.True(t, findingAt(r.Findings, file, tt.line, tt.rule), "%+v", r.Findings)
			if tt.errText != "" {
				assert.Contains(t, r.Error, tt.errText)
			}
		})
	}
}

func TestPythonQualitySkipsWithoutCode(t *testing.T) {
	root := t.TempDir()
	cfg := testConfig(t, root, env{})
	res, _ := runOne(t, cfg, Black(cfg))
	assert.Equal(t, pipeline.StatusSkipped, res.Status)
	assert.Equal(t, "no Python code in src, tests, scripts", res.Reason)
}

func TestDiffFindings(t *testing.T) {
	diff := "--- /repo/src/a.py\t2026-01-01 00:00:00 +0000\n+++ /repo/src/a.py\t2026-01-01 00:00:01 +0000\n" +
		"@@ -10,6 +10,7 @@\n context\n context\n-old\n+new\n" +
		"--- /repo/src/b.py:before\t2026-01-01\n+++ /repo/src/b.py:after\t2026-01-01\n@@ -1,2 +1,2 @@\n+import os\n import sys\n"
	fs := diffFindings("/repo", diff, "black", "reformat %s")
	require.Len(t, fs, 2)
	assert.Equal(t, []any{"src/a.py", 12, "reformat src/a.py"}, []any{fs[0].File, fs[0].Line, fs[0].Message})
	assert.Equal(t, []any{"src/b.py", 1}, []any{fs[1].File, fs[1].Line})
}

func TestGoQuality(t *testing.T) {
	root := fixture(t)
	cfg := testConfig(t, root, env{})
	writeFile(t, root, "calc/lint.go", "package calc\n\nimport \"fmt\"\n\n// Describe prints a number.\nfunc Describe(n int) string {\n\tmsg := fmt.Sprintf(\"%d\", n)\n\tmsg = \"fixed\"\n\treturn fmt.Sprintf(\"%d\", msg)\n}\n")
	writeFile(t, root, "calc/ugly.go", "package calc\n\n// Sub subtracts.\nfunc Sub(a,b int)int{return a-b}\n")

	t.Run("gofmt names the file and the fix", func(t *testing.T) {
		res, _ := runOne(t, cfg, Gofmt(cfg))
		require.Equal(t, pipeline.StatusFail, res.Status)
		assert.Contains(t, res.Error, "gofmt -w calc/ugly.go")
		assert.True(t, findingAt(res.Findings, "calc/ugly.go", 1, "gofmt"))
	})
	t.Run("go vet locates the bad format", func(t *testing.T) {
		res, _ := runOne(t, cfg, GoVet(cfg))
		require.Equal(t, pipeline.StatusFail, res.Status)
		assert.True(t, findingAt(res.Findings, "calc/lint.go", 9, "go vet"), "%+v", res.Findings)
		assert.Contains(t, res.Error, "calc/lint.go:9:22: fmt.Sprintf format %d has arg msg of wrong type string")
	})
	t.Run("staticcheck real run", func(t *testing.T) {
		requireTool(t, "staticcheck")
		res, _ := runOne(t, cfg, Staticcheck(cfg))
		require.Equal(t, pipeline.StatusFail, res.Status)
		assert.True(t, findingAt(res.Findings, "calc/lint.go", 7, "SA4006"), "%+v", res.Findings)
	})
}

func TestStaticcheckGolden(t *testing.T) {
	// Real staticcheck v0.8.2 output on the fixture plus calc/lint.go.
	b, err := os.ReadFile(filepath.Join("testdata", "golden", "staticcheck.json"))
	require.NoError(t, err)
	fs, err := parseStaticcheck("/repo", string(b))
	require.NoError(t, err)
	require.Len(t, fs, 3)
	assert.Equal(t, pipeline.Finding{File: "calc/lint.go", Line: 7, Col: 2, Rule: "SA4006", Severity: "error", Message: "this value of msg is never used"}, fs[0])

	fs, err = parseStaticcheck("/repo", `{"code":"compile","severity":"error","location":{"file":"","line":0,"column":0},"message":"/repo/calc/x.go:3:2: could not import foo"}`+"\n")
	require.NoError(t, err)
	assert.Equal(t, []any{"calc/x.go", 3, 2, "could not import foo"}, []any{fs[0].File, fs[0].Line, fs[0].Col, fs[0].Message})

	_, err = parseStaticcheck("/repo", "not json\n")
	assert.Error(t, err)
}

func TestParseGoVetAndMypy(t *testing.T) {
	vet := parseGoVet("/repo", "# example.com/x\nvet: ./a/b.go:3:4: unreachable code\nc.go:1:2: bad\n")
	assert.Equal(t, []string{"a/b.go", "c.go"}, []string{vet[0].File, vet[1].File})
	my := parseMypy("/repo", "src/a.py:3: error: Name \"x\" is not defined  [name-defined]\nsrc/a.py:4:2: note: See docs\n")
	require.Len(t, my, 2)
	assert.Equal(t, pipeline.Finding{File: "src/a.py", Line: 3, Rule: "name-defined", Severity: "error", Message: "Name \"x\" is not defined"}, my[0])
	assert.Equal(t, "notice", my[1].Severity)
}
