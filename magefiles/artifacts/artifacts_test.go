package artifacts

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func touch(t *testing.T, root, rel string, mtime time.Time) string {
	t.Helper()
	p := filepath.Join(Dir(root), rel)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
	require.NoError(t, os.Chtimes(p, mtime, mtime))
	return p
}

func TestPrune(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	root := t.TempDir()
	old := touch(t, root, "security/bandit.sarif", now.Add(-31*24*time.Hour))
	oldDir := touch(t, root, "verify/dev/junit.xml", now.Add(-40*24*time.Hour))
	fresh := touch(t, root, "ci-report.json", now.Add(-time.Hour))
	edge := touch(t, root, "tests/pytest.xml", now.Add(-DefaultRetention+time.Minute))

	n, err := Prune(root, DefaultRetention, now)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.NoFileExists(t, old)
	assert.NoFileExists(t, oldDir)
	assert.NoDirExists(t, filepath.Dir(oldDir), "emptied directories are removed")
	assert.FileExists(t, fresh)
	assert.FileExists(t, edge)
}

// TestPruneSymlink: a link in artifacts/ to an old file elsewhere is
// removed as a link; the file it points at is not touched.
func TestPruneSymlink(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	root, outside := t.TempDir(), t.TempDir()
	target := touch(t, outside, "keep.txt", now.Add(-90*24*time.Hour))
	require.NoError(t, os.MkdirAll(Dir(root), 0o755))
	link := filepath.Join(Dir(root), "link")
	require.NoError(t, os.Symlink(target, link))
	require.NoError(t, os.Chtimes(target, now.Add(-90*24*time.Hour), now.Add(-90*24*time.Hour)))
	_, err := Prune(root, DefaultRetention, now)
	require.NoError(t, err)
	assert.FileExists(t, target)
}

func TestPruneBadInput(t *testing.T) {
	_, err := Prune(t.TempDir(), 0, time.Now())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "retention must be positive")

	n, err := Prune(t.TempDir(), time.Hour, time.Now())
	require.NoError(t, err, "no artifacts directory is nothing to prune")
	assert.Zero(t, n)
}

func TestClean(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "bench/ci.json", time.Now())
	require.NoError(t, Clean(root))
	assert.NoDirExists(t, Dir(root))
	require.NoError(t, Clean(root), "cleaning twice is fine")
}
