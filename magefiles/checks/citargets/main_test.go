package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/checks"
	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

func TestGeneratedFileIsUpToDate(t *testing.T) {
	root, err := project.Root()
	require.NoError(t, err)
	want, err := render()
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(root, outputPath))
	require.NoError(t, err)
	assert.True(t, string(got) == string(want),
		"%s is out of date with the checks declared in magefiles/checks: run `%s`", outputPath, regenerate)
}

// TestEveryCheckAndGroupHasATarget reads the CI namespace's methods in the
// magefiles: a check with OwnTarget has its hand-written one.
func TestEveryCheckAndGroupHasATarget(t *testing.T) {
	root, err := project.Root()
	require.NoError(t, err)
	targets := map[string]bool{}
	for _, f := range []string{"magefiles/ci.go", outputPath} {
		file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, f), nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, d := range file.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv != nil && len(fn.Recv.List) == 1 {
				if id, ok := fn.Recv.List[0].Type.(*ast.Ident); ok && id.Name == "CI" {
					targets[fn.Name.Name] = true
				}
			}
		}
	}
	for _, c := range checks.Declared {
		assert.True(t, targets[targetName(c.Name)], "check %s has no target %s", c.Name, targetName(c.Name))
	}
	for _, g := range checks.DeclaredGroups {
		assert.True(t, targets[targetName(g.Name)], "group %s has no target %s", g.Name, targetName(g.Name))
	}
}

func TestTargetName(t *testing.T) {
	for in, want := range map[string]string{"go-vet": "GoVet", "req-audit": "ReqAudit", "gofmt": "Gofmt", "flake8": "Flake8"} {
		assert.Equal(t, want, targetName(in))
	}
}
