package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name  string
		exist string // content before the write; "" for none
		perm  os.FileMode
	}{
		{"creates the file and its folder", "", 0o600},
		{"replaces a file", "old content", 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "f.json")
			if tt.exist != "" {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, []byte(tt.exist), 0o600))
			}
			require.NoError(t, Write(path, []byte("new"), tt.perm))
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, "new", string(got))
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, tt.perm, fi.Mode().Perm())
			entries, err := os.ReadDir(filepath.Dir(path))
			require.NoError(t, err)
			assert.Len(t, entries, 1, "no temporary file is left behind")
		})
	}
}

func TestWriteFailsWithoutLeavingATemporaryFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "target")
	require.NoError(t, os.Mkdir(path, 0o755)) // a folder cannot be renamed over
	require.NoError(t, os.WriteFile(filepath.Join(path, "x"), nil, 0o600))
	err := Write(path, []byte("data"), 0o600)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "write "+path)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}

// Readers racing many writers of one path only ever see one whole content.
func TestConcurrentWritersPublishWholeFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "entry")
	contents := []string{strings.Repeat("a", 64<<10), strings.Repeat("b", 64<<10)}
	require.NoError(t, Write(path, []byte(contents[0]), 0o600))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 20 {
				assert.NoError(t, Write(path, []byte(contents[i%2]), 0o600))
			}
		})
	}
	for range 200 {
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Contains(t, contents, string(got))
	}
	wg.Wait()
}
