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
