package checks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
)

func TestGoTestRealRun(t *testing.T) {
	root := fixture(t)
	cfg := testConfig(t, root, env{})

	// The fixture's one package falls to the catch-all group; go-coverage
	// merges its profile.
	tasks := GoTests(cfg)
	require.Equal(t, []string{"go-test-rest", goCoverageName}, taskNames(tasks))
	rep, out := run(t, cfg, tasks, func(o *pipeline.Options) { o.NoCache = true })
	res, _ := rep.Result("go-test-rest")
	require.Equal(t, pipeline.StatusPass, res.Status, out)
	assert.Equal(t, "1 packages ok; 2 tests passed, coverage 100.0%", res.Summary)
	assert.Contains(t, out, "ok  \texample.com/fixture/calc")
	cov, _ := rep.Result(goCoverageName)
	require.Equal(t, pipeline.StatusPass, cov.Status, out)
	assert.Equal(t, "100.0% of statements (1 checks merged)", cov.Summary)
	suites := readJUnitFile(t, filepath.Join(root, "artifacts", "tests", "go-test-rest.xml"))
	require.Len(t, suites.Suites, 1)
	s := suites.Suites[0]
	assert.Equal(t, "example.com/fixture/calc", s.Name)
	assert.Equal(t, 2, s.Tests)
	assert.Equal(t, "100.0%", s.Properties[0].Value)
	for _, f := range []string{"coverage/go.out", "coverage/go.html", "coverage/go-test-rest.out", "tests/go-test-rest.json"} {
		_, err := os.Stat(filepath.Join(root, "artifacts", f))
		assert.NoError(t, err, f)
	}

	t.Run("a failing test fails with its file:line", func(t *testing.T) {
		appendFile(t, root, "calc/calc_test.go", "\nfunc TestBroken(t *testing.T) {\n\tt.Run(\"case\", func(t *testing.T) {\n\t\tt.Errorf(\"Add(1, 1) = %d, want 3\", Add(1, 1))\n\t})\n}\n")
		res, out := runOne(t, cfg, tasks[0])
		require.Equal(t, pipeline.StatusFail, res.Status)
		assert.Contains(t, res.Error, "calc.TestBroken/case failed")
		assert.True(t, findingAt(res.Findings, "calc/calc_test.go", 19, "TestBroken/case"), "%+v", res.Findings)
		assert.Contains(t, out, "Add(1, 1) = 2, want 3", "failed tests' output is shown")
		assert.Regexp(t, `^0 packages ok, 1 failed; 2 tests passed, 2 failed`, res.Summary)
		s := readJUnitFile(t, filepath.Join(root, "artifacts", "tests", "go-test-rest.xml")).Suites[0]
		assert.Equal(t, 2, s.Failures)
	})

	t.Run("a compile error is located", func(t *testing.T) {
		writeFile(t, root, "calc/calc_test.go", "package calc\n\nimport \"testing\"\n\nfunc TestX(t *testing.T) { undefinedThing() }\n")
		res, _ := runOne(t, cfg, tasks[0])
		require.Equal(t, pipeline.StatusFail, res.Status)
		assert.True(t, findingAt(res.Findings, "calc/calc_test.go", 5, "build"), "%+v", res.Findings)
		assert.Contains(t, res.Error, "example.com/fixture/calc (build or package failure)")
		s := readJUnitFile(t, filepath.Join(root, "artifacts", "tests", "go-test-rest.xml")).Suites[0]
		assert.Equal(t, 1, s.Errors)
	})

	t.Run("a missing profile skips the merge with the command to run", func(t *testing.T) {
		require.NoError(t, os.Remove(filepath.Join(root, "artifacts", "coverage", "go-test-rest.out")))
		merge := tasks[1]
		merge.Deps = nil // as when the group's pass is cached and the merge is not
		res, _ := runOne(t, cfg, merge)
		require.Equal(t, pipeline.StatusSkipped, res.Status)
		assert.Contains(t, res.Reason, "no coverage profile from go-test-rest")
	})
}

func readJUnitFile(t *testing.T, path string) junitSuites {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	s, err := readJUnit(f)
	require.NoError(t, err)
	return s
}

func TestPytestRealRun(t *testing.T) {
	root := fixture(t)
	cfg := testConfig(t, root, env{})
	pytest := Pytest(cfg, "3.11")

	res, out := runOne(t, cfg, pytest)
	require.Equal(t, pipeline.StatusPass, res.Status, out)
	assert.Equal(t, "5 passed, coverage 100%", res.Summary)
	for _, f := range []string{"tests/pytest-3.11.xml", "coverage/python-3.11/coverage.xml", "coverage/python-3.11/html/index.html"} {
		_, err := os.Stat(filepath.Join(root, "artifacts", f))
		assert.NoError(t, err, f)
	}
	assert.Contains(t, readFile(t, root, "artifacts/coverage/python-3.11/coverage.xml"), `<coverage version=`, "Cobertura XML")
	assert.Contains(t, out, "TOTAL", "terminal coverage report")

	t.Run("a failing test fails with its file:line", func(t *testing.T) {
		appendFile(t, root, "tests/unit/test_core.py", "\n\ndef test_broken() -> None:\n    assert add(1, 1) == 3\n")
		res, _ := runOne(t, cfg, pytest)
		require.Equal(t, pipeline.StatusFail, res.Status)
		assert.Contains(t, res.Error, "1 test(s) failed; first: tests/unit/test_core.py:30 test_broken")
		assert.True(t, findingAt(res.Findings, "tests/unit/test_core.py", 30, "test_broken"), "%+v", res.Findings)
		assert.Contains(t, res.Summary, "1 failed, 5 passed")
		writeFile(t, root, "tests/unit/test_core.py", readFile(t, filepath.Join("testdata", "repo"), "tests/unit/test_core.py"))
	})

	t.Run("coverage below 80% fails with the figure", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("\"\"\"Code no test reaches.\"\"\"\n")
		for i := 0; i < 15; i++ {
			b.WriteString("\n\ndef unused_" + string(rune('a'+i)) + "(value: int) -> int:\n    \"\"\"Return value.\"\"\"\n    return value\n")
		}
		writeFile(t, root, "src/fixture/extra.py", b.String())
		res, _ := runOne(t, cfg, pytest)
		require.Equal(t, pipeline.StatusFail, res.Status)
		assert.Regexp(t, `^pytest-3.11: coverage [0-9.]+% is below the required 80%`, res.Error)
		assert.Contains(t, res.Summary, "5 passed, coverage ")
		require.NoError(t, os.Remove(filepath.Join(root, "src", "fixture", "extra.py")))
	})
}

func TestPytestMatrixMissingInterpreter(t *testing.T) {
	root := fixture(t)
	cfg := testConfig(t, root, env{})
	res, _ := runOne(t, cfg, Pytest(cfg, "3.4"))
	assert.Equal(t, pipeline.StatusSkipped, res.Status)
	assert.Equal(t, "python3.4 not found", res.Reason)

	cfg.Strict = true
	res, _ = runOne(t, cfg, Pytest(cfg, "3.4"))
	assert.Equal(t, pipeline.StatusFail, res.Status)
	assert.Contains(t, res.Error, "python3.4 not found (strict mode")
}

func TestPytestMatrixInterpreterWithoutTheModules(t *testing.T) {
	// A pyenv build of the version that lacks pytest: found in pyenv's
	// versions folder (never through its slow shim), reported with what
	// it lacks and the pip command, skipped; strict mode fails.
	pyenv := t.TempDir()
	bin := filepath.Join(pyenv, "versions", "3.7.18", "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "python3.7"),
		[]byte("#!/bin/sh\necho '{\"version\":\"3.7\",\"full\":\"3.7.18\",\"modules\":{},\"dists\":{}}'\n"), 0o755))
	t.Setenv("PYENV_ROOT", pyenv)
	root := fixture(t)
	cfg := testConfig(t, root, env{})
	res, out := runOne(t, cfg, Pytest(cfg, "3.7"))
	require.Equal(t, pipeline.StatusSkipped, res.Status, out)
	assert.Equal(t, "python3.7 (pyenv 3.7.18) lacks Python modules: pytest, pytest_cov, xdist, pytest_timeout", res.Reason)
	assert.Contains(t, out, filepath.Join(bin, "python3.7")+" -m pip install pytest pytest-cov pytest-xdist pytest-timeout")

	cfg.Strict = true
	res, _ = runOne(t, cfg, Pytest(cfg, "3.7"))
	require.Equal(t, pipeline.StatusFail, res.Status)
	assert.Contains(t, res.Error, "python3.7 (pyenv 3.7.18) lacks Python modules: pytest")
	assert.Contains(t, res.Error, "-m pip install pytest")
}

func TestPytestMatrixNames(t *testing.T) {
	cfg := Config{Root: t.TempDir(), Getenv: env{}.get}
	assert.Equal(t, []string{"pytest-3.9", "pytest-3.10", "pytest-3.11"}, taskNames(PytestMatrix(cfg)))
	cfg.Getenv = env{"CI_PYTHON_VERSIONS": "3.12, 3.13"}.get
	assert.Equal(t, []string{"pytest-3.12", "pytest-3.13"}, taskNames(PytestMatrix(cfg)))
	assert.Equal(t, []string{"go-test-rest", goCoverageName, "pytest-3.12", "pytest-3.13"}, Expand(cfg, []string{"unit"}))
}

func taskNames(ts []pipeline.Task) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func TestParsePytestOutput(t *testing.T) {
	tests := []struct {
		out     string
		summary string
		failed  int
		cov     float64
	}{
		{"===== 41 passed in 1.20s =====\nTOTAL  10  0  100%\n", "41 passed, coverage 100%", 0, 100},
		{"FAILED tests/unit/test_a.py::test_x\n1 failed, 40 passed, 2 warnings in 0.5s\n", "1 failed, 40 passed, 2 warnings", 1, -1},
		{"2 errors in 0.1s\n", "2 errors", 2, -1},
		{"TOTAL   20   9   55%\nFAIL Required test coverage of 80% not reached. Total coverage: 55.00%\n== 3 passed in 0.2s ==", "3 passed, coverage 55%", 0, 55},
		{"no tests ran in 0.01s\n", "no tests ran", 0, -1},
	}
	for _, tt := range tests {
		r := parsePytestOutput(tt.out)
		assert.Equal(t, tt.summary, r.summary(), tt.out)
		assert.Equal(t, tt.failed, r.failed)
		assert.InDelta(t, tt.cov, r.coverage, 0.001)
	}
}

// TestGoTestRestTestsOnlyChangedPackages: the catch-all group keys each
// package by its own import closure: an edit tests the packages that
// import what changed, the others are reported from when they passed,
// with their tests and coverage; -nocache tests them all.
func TestGoTestRestTestsOnlyChangedPackages(t *testing.T) {
	root := fixture(t)
	writeFile(t, root, "calc/twice/twice.go", "// Package twice doubles.\npackage twice\n\nimport \"example.com/fixture/calc\"\n\n// Of doubles n.\nfunc Of(n int) int { return calc.Add(n, n) }\n")
	writeFile(t, root, "calc/twice/twice_test.go", "package twice\n\nimport \"testing\"\n\nfunc TestOf(t *testing.T) {\n\tif Of(2) != 4 {\n\t\tt.Fatal(Of(2))\n\t}\n}\n")
	writeFile(t, root, "words/words.go", "// Package words counts.\npackage words\n\nimport \"strings\"\n\n// Count counts words.\nfunc Count(s string) int { return len(strings.Fields(s)) }\n")
	writeFile(t, root, "words/words_test.go", "package words\n\nimport \"testing\"\n\nfunc TestCount(t *testing.T) {\n\tif Count(\"a b\") != 2 {\n\t\tt.Fatal()\n\t}\n}\n")
	cfg := testConfig(t, root, env{})
	group := func(opts ...func(*pipeline.Options)) (pipeline.Result, string) {
		t.Helper()
		rep, out := run(t, cfg, GoTests(cfg), opts...)
		res, ok := rep.Result("go-test-rest")
		require.True(t, ok)
		return res, out
	}
	profile := func() string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, "artifacts", "coverage", "go-test-rest.out"))
		require.NoError(t, err)
		return string(b)
	}

	res, out := group()
	require.Equal(t, pipeline.StatusPass, res.Status, out)
	assert.Equal(t, "3 packages ok; 4 tests passed, coverage 100.0%", res.Summary)

	appendFile(t, root, "words/words.go", "\n// Empty reports an empty text.\nfunc Empty(s string) bool { return Count(s) == 0 }\n")
	res, out = group()
	require.Equal(t, pipeline.StatusPass, res.Status, out)
	assert.Contains(t, out, "testing 1 of 3 packages (the others unchanged since they passed): words")
	assert.Regexp(t, `^3 packages ok \(1 tested, 2 unchanged since they passed\); 4 tests passed, coverage \d`, res.Summary)
	assert.Contains(t, profile(), "example.com/fixture/calc/calc.go:", "the kept packages' coverage is in the group's profile")
	assert.Contains(t, profile(), "example.com/fixture/words/words.go:")

	appendFile(t, root, "calc/calc.go", "\n// Neg negates n.\nfunc Neg(n int) int { return -n }\n")
	res, out = group()
	require.Equal(t, pipeline.StatusPass, res.Status, out)
	assert.Contains(t, out, "testing 2 of 3 packages (the others unchanged since they passed): calc, calc/twice", "twice imports calc")

	appendFile(t, root, "words/words_test.go", "\nfunc TestBroken(t *testing.T) { t.Fatal(\"planted\") }\n")
	res, _ = group()
	require.Equal(t, pipeline.StatusFail, res.Status)
	res, out = group()
	require.Equal(t, pipeline.StatusFail, res.Status, "a failed package is never kept: it runs again")
	assert.Contains(t, out, "testing 1 of 3 packages")

	writeFile(t, root, "words/words_test.go", "package words\n\nimport \"testing\"\n\nfunc TestCount(t *testing.T) {\n\tif Count(\"a b\") != 2 {\n\t\tt.Fatal()\n\t}\n}\n")
	res, out = group(func(o *pipeline.Options) { o.NoCache = true })
	require.Equal(t, pipeline.StatusPass, res.Status, out)
	assert.Regexp(t, `^3 packages ok; 4 tests passed, coverage \d`, res.Summary, "-nocache tests every package")
}
