package checks

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// repoRoot is this repository.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	return root
}

func TestScanGoPackagesAgreesWithGoList(t *testing.T) {
	// The scan reads import clauses only; the go command is the truth.
	root := repoRoot(t)
	g, err := scanGoPackages(root)
	require.NoError(t, err)
	out, err := toolchain.Output(context.Background(), toolchain.Cmd{Name: "go", Args: []string{"list", "-f", "{{.Dir}}", "./..."}, Dir: root})
	require.NoError(t, err)
	var want []string
	for _, dir := range strings.Fields(out) {
		rel, err := filepath.Rel(root, dir)
		require.NoError(t, err)
		want = append(want, filepath.ToSlash(rel))
	}
	sort.Strings(want)
	assert.Equal(t, want, g.dirs())

	deps, err := toolchain.Output(context.Background(), toolchain.Cmd{Name: "go", Args: []string{"list", "-test", "-deps", "-f", "{{.ImportPath}}", "./tests/e2e"}, Dir: root})
	require.NoError(t, err)
	var e2e []string
	for _, p := range strings.Fields(deps) {
		if d, ok := g.dirOf(p); ok && !strings.Contains(d, ".test") && !strings.Contains(d, " ") {
			e2e = append(e2e, d)
		}
	}
	assert.Subset(t, g.closure([]string{"tests/e2e"}), e2e, "every module package the e2e tests build is in their closure")
	assert.NotContains(t, g.closure([]string{"tests/e2e"}), "magefiles/releasenotes", "an edit there does not re-run the e2e tests")
}

func TestScanGoPackagesFixture(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "go.mod", "module example.com/m\n\ngo 1.26\n")
	writeFile(t, root, "a/a.go", "package a\n\nimport _ \"example.com/m/b\"\n")
	writeFile(t, root, "a/a_test.go", "package a_test\n\nimport _ \"example.com/m/c/d\"\n")
	writeFile(t, root, "b/b.go", "package b\n\nimport \"fmt\"\n\nvar _ = fmt.Sprint\n")
	writeFile(t, root, "c/d/d.go", "package d\n")
	writeFile(t, root, "e/e.go", "package e\n")
	writeFile(t, root, "tools/tools.go", "//go:build ignore\n\npackage tools\n\nimport _ \"example.com/m/e\"\n")
	writeFile(t, root, "targets/t.go", "//go:build mage\n\npackage main\n")
	writeFile(t, root, "a/testdata/x/x.go", "package x\n")
	writeFile(t, root, ".hidden/h.go", "package h\n")
	writeFile(t, root, "plat/p_windows.go", "package plat\n")

	g, err := scanGoPackages(root)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c/d", "e"}, g.dirs(), "ignored, mage-tagged, other-system, testdata and hidden files are no packages")
	assert.Equal(t, []string{"a", "b", "c/d"}, g.closure([]string{"a"}), "tests' imports count")
	assert.Equal(t, []string{"b"}, g.closure([]string{"b"}))
	assert.Equal(t, []string{"c/d"}, g.match("c/..."))
	assert.Equal(t, []string{"a/*.go", "c/d/*.go"}, goFilesOf([]string{"a", "c/d"}))

	_, err = scanGoPackages(t.TempDir())
	require.Error(t, err, "no go.mod")
	writeFile(t, root, "b/broken.go", "package b\n\nimport (\n")
	_, err = scanGoPackages(root)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broken.go")
}

func TestGoTestPlanPartitionsEveryPackage(t *testing.T) {
	root := repoRoot(t)
	plan := planGoTests(root, goTestGroups)
	require.NoError(t, plan.err)
	seen := map[string]string{}
	selected := map[string][]goTestGroup{} // packages whose tests several groups split
	for _, g := range plan.groups {
		for _, d := range plan.pkgs[g.Name] {
			if g.Tests != "" || g.Skip != "" {
				selected[d] = append(selected[d], g)
				seen[d] = g.Name
				continue
			}
			require.Empty(t, seen[d], "%s is in %s and %s", d, seen[d], g.Name)
			seen[d] = g.Name
		}
	}
	assert.Len(t, seen, len(plan.graph.dirs()), "every package is tested by a group")
	// Where groups split a package's tests, each test is run by exactly one.
	testFunc := regexp.MustCompile(`(?m)^func (Test\w+)\(t \*testing\.T\)`)
	for d, groups := range selected {
		files, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(d), "*_test.go"))
		require.NoError(t, err)
		var names []string
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			for _, m := range testFunc.FindAllStringSubmatch(string(b), -1) {
				names = append(names, m[1])
			}
		}
		require.NotEmpty(t, names, d)
		for _, n := range names {
			var by []string
			for _, g := range groups {
				if (g.Tests == "" || regexp.MustCompile(g.Tests).MatchString(n)) && (g.Skip == "" || !regexp.MustCompile(g.Skip).MatchString(n)) {
					by = append(by, g.Name)
				}
			}
			assert.Len(t, by, 1, "%s.%s is run by %v", d, n, by)
		}
	}
	var served goTestGroup
	for _, g := range plan.groups {
		if g.Name == "go-test-served" {
			served = g
		}
	}
	servedIn := plan.inputs(Config{Root: root}, served)
	assert.Contains(t, servedIn.Files, "magefiles/cd/*.go")
	assert.NotContains(t, servedIn.Files, "magefiles/releasenotes/*.go", "the served targets do not run release notes")
	assert.Equal(t, "go-test-e2e", seen["tests/e2e"])
	assert.Equal(t, "go-test-model", seen["magefiles/emulator/agentmodel"], "the first group that names a package takes it")
	assert.Equal(t, "go-test-emulator", seen["magefiles/emulator/traffic"])
	assert.Equal(t, "go-test-rest", seen["magefiles/releasenotes"])

	var e2e goTestGroup
	for _, g := range plan.groups {
		if g.Name == "go-test-e2e" {
			e2e = g
		}
	}
	in := plan.inputs(Config{Root: root}, e2e)
	assert.Contains(t, in.Files, "magefiles/cd/*.go", "an imported package's Go files")
	assert.Contains(t, in.Files, "tests/e2e/testdata/**")
	assert.Contains(t, in.Files, "databricks.yml")
	assert.NotContains(t, in.Files, "magefiles/releasenotes/*.go")
	assert.NotContains(t, in.Files, "src/**", "Python sources count by name only")
	assert.Contains(t, in.Names, "src/**")
}

func TestGoCoverageKeyIsTheUnionOfTheGroups(t *testing.T) {
	root := repoRoot(t)
	tasks := GoTests(Config{Root: root, ToolsDir: t.TempDir()})
	merge := tasks[len(tasks)-1]
	require.Equal(t, goCoverageName, merge.Name)
	assert.Len(t, merge.Deps, len(tasks)-1, "it waits for every group")
	v, err := merge.Inputs.Version(context.Background())
	require.NoError(t, err)
	assert.Contains(t, v, "gosec@", "the checks group's tools are part of it")
	assert.Contains(t, v, "vulndb v")
	assert.Contains(t, merge.Inputs.Files, "tests/e2e/*.go")
	assert.Contains(t, merge.Inputs.Files, "src/**", "the model group reads the model's sources")
}

// TestGoTestKeysHoldWhatTheBundleCopyHolds: the tests that copy the
// project's bundle (project.BundlePaths) read every file of the copy, so
// each copied path is in the groups' keys: by content, or by name for
// the Python sources, which a Go stand-in of the model replaces.
func TestGoTestKeysHoldWhatTheBundleCopyHolds(t *testing.T) {
	for _, p := range project.BundlePaths {
		keyed := slices.Contains(bundleInputs, p) || slices.Contains(bundleInputs, p+"/**") || slices.Contains(pythonNames, p+"/**")
		assert.True(t, keyed, "%s is copied with the bundle but in no go-test key", p)
	}
}
