package checks

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCoverProfileMerge(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.out", "mode: atomic\nm/a.go:1.1,3.2 2 1\nm/a.go:4.1,6.2 3 0\n")
	writeFile(t, dir, "b.out", "mode: atomic\nm/b.go:1.1,2.2 5 0\nm/a.go:4.1,6.2 3 4\n")
	p := newCoverProfile()
	require.NoError(t, p.read(filepath.Join(dir, "a.out")))
	assert.InDelta(t, 40.0, p.percent(), 1e-9, "2 of 5 statements")
	require.NoError(t, p.read(filepath.Join(dir, "b.out")))
	assert.InDelta(t, 50.0, p.percent(), 1e-9, "a block covered in either profile is covered: 5 of 10")
	require.NoError(t, p.write(filepath.Join(dir, "go.out")))
	assert.Equal(t, "mode: atomic\nm/a.go:1.1,3.2 2 1\nm/a.go:4.1,6.2 3 4\nm/b.go:1.1,2.2 5 0\n", readFile(t, dir, "go.out"))

	got, err := profileCoverage(filepath.Join(dir, "go.out"))
	require.NoError(t, err)
	assert.InDelta(t, 50.0, got, 1e-9)
	empty := newCoverProfile()
	empty.mode = "set"
	assert.Zero(t, empty.percent())

	for name, content := range map[string]string{
		"a different mode": "mode: set\nm/c.go:1.1,2.2 1 1\n",
		"not a block":      "mode: atomic\nm/c.go:1.1,2.2 1\n",
		"a bad count":      "mode: atomic\nm/c.go:1.1,2.2 1 x\n",
	} {
		t.Run(name, func(t *testing.T) {
			writeFile(t, dir, "bad.out", content)
			require.Error(t, p.read(filepath.Join(dir, "bad.out")))
		})
	}
	writeFile(t, dir, "nomode.out", "m/c.go:1.1,2.2 1 1\n")
	require.ErrorContains(t, newCoverProfile().read(filepath.Join(dir, "nomode.out")), "no mode line")
	_, err = profileCoverage(filepath.Join(dir, "missing.out"))
	require.Error(t, err)
}
