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

func TestCopyBundle(t *testing.T) {
	from, to := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	files := map[string]bool{
		"databricks.yml":                          true,
		"src/human_interrupt_agent/graph.py":      true,
		"tests/integration/cases.json":            true,
		"tests/validation/cases.json":             true,
		"src/human_interrupt_agent/graph.pyc":     false,
		"src/human_interrupt_agent/__pycache__/x": false,
		"src/.hidden/y.py":                        false,
		"resources/job.yml":                       true,
		".git/HEAD":                               false,
		"tests/unit/test_graph.py":                false,
		"go.mod":                                  false,
	}
	for f := range files {
		p := filepath.Join(from, f)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(f), 0o644))
	}
	yml := "targets:\n  dev:\n    workspace:\n      host: https://dev.example.com\n  prod:\n    workspace:\n      host:   https://prod.example.com  \n"
	require.NoError(t, os.WriteFile(filepath.Join(from, "databricks.yml"), []byte(yml), 0o644))

	require.NoError(t, CopyBundle(from, to, "http://127.0.0.1:9"))
	for f, copied := range files {
		b, err := os.ReadFile(filepath.Join(to, f))
		switch {
		case !copied:
			assert.Error(t, err, "%s must be left out", f)
		case f == "databricks.yml":
			require.NoError(t, err)
			assert.Equal(t, "targets:\n  dev:\n    workspace:\n      host: http://127.0.0.1:9\n  prod:\n    workspace:\n      host:   http://127.0.0.1:9\n", string(b))
		default:
			require.NoError(t, err, f)
			assert.Equal(t, f, string(b))
		}
	}
}

func TestCopyBundleErrors(t *testing.T) {
	t.Run("missing bundle path", func(t *testing.T) {
		from := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(from, "databricks.yml"), nil, 0o644))
		err := CopyBundle(from, t.TempDir(), "h")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "copy resources")
	})
	t.Run("symlink out of the project", func(t *testing.T) {
		from, outside := t.TempDir(), t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("x"), 0o644))
		for _, d := range BundlePaths[1:] {
			require.NoError(t, os.MkdirAll(filepath.Join(from, d), 0o755))
		}
		require.NoError(t, os.WriteFile(filepath.Join(from, "databricks.yml"), nil, 0o644))
		require.NoError(t, os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(from, "src", "leak.txt")))
		err := CopyBundle(from, t.TempDir(), "h")
		require.Error(t, err, "a symlink leaving the project must not be followed")
		assert.Contains(t, err.Error(), "copy src")
	})
}
