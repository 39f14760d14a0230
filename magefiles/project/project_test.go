package project

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRootFrom(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"go.mod", "mage.go"} {
		require.NoError(t, os.WriteFile(filepath.Join(root, f), nil, 0o644))
	}
	deep := filepath.Join(root, "magefiles", "pipeline")
	require.NoError(t, os.MkdirAll(deep, 0o755))

	got, err := RootFrom(deep)
	require.NoError(t, err)
	assert.Equal(t, root, got)

	_, err = RootFrom(t.TempDir())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no go.mod with mage.go")
}

func TestCopyTree(t *testing.T) {
	from, to := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	files := map[string]bool{
		"databricks.yml":                          true,
		"src/human_interrupt_agent/graph.py":      true,
		"src/human_interrupt_agent/graph.pyc":     false,
		"src/human_interrupt_agent/__pycache__/x": false,
		".git/HEAD":               false,
		"resources/.hidden/y.yml": false,
	}
	for f := range files {
		p := filepath.Join(from, f)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(f), 0o644))
	}
	require.NoError(t, CopyTree(from, to))
	for f, copied := range files {
		b, err := os.ReadFile(filepath.Join(to, f))
		if copied {
			require.NoError(t, err, f)
			assert.Equal(t, f, string(b))
		} else {
			assert.Error(t, err, "%s must be left out", f)
		}
	}
	require.Error(t, CopyTree(filepath.Join(from, "missing"), to))
}
