// Package storetest checks that a release.Store behaves as the journal and
// the lock need: the same contract for the local directory and the
// workspace, so both are tested by one list of cases.
package storetest

import (
	"context"
	"path"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// Contract runs the store contract under dir (a folder that may not exist yet).
func Contract(t *testing.T, s release.Store, dir string) {
	ctx := context.Background()
	p := func(name string) string { return path.Join(dir, name) }

	t.Run("missing file is ErrNotExist", func(t *testing.T) {
		_, err := s.Read(ctx, p("nope.json"))
		assert.ErrorIs(t, err, release.ErrNotExist)
		assert.ErrorIs(t, s.Delete(ctx, p("nope.json")), release.ErrNotExist)
	})
	t.Run("missing folder lists empty", func(t *testing.T) {
		names, err := s.List(ctx, p("no-such-folder"))
		require.NoError(t, err)
		assert.Empty(t, names)
	})
	t.Run("write creates parents and reads back", func(t *testing.T) {
		require.NoError(t, s.Write(ctx, p("a/b/c.json"), []byte(`{"x":1}`), false))
		got, err := s.Read(ctx, p("a/b/c.json"))
		require.NoError(t, err)
		assert.Equal(t, `{"x":1}`, string(got))
	})
	t.Run("create-only write refuses an existing file", func(t *testing.T) {
		require.NoError(t, s.Write(ctx, p("once.json"), []byte("1"), false))
		err := s.Write(ctx, p("once.json"), []byte("2"), false)
		assert.ErrorIs(t, err, release.ErrExist)
		got, err := s.Read(ctx, p("once.json"))
		require.NoError(t, err)
		assert.Equal(t, "1", string(got), "content unchanged")
	})
	t.Run("overwrite replaces", func(t *testing.T) {
		require.NoError(t, s.Write(ctx, p("over.json"), []byte("1"), true))
		require.NoError(t, s.Write(ctx, p("over.json"), []byte("2"), true))
		got, err := s.Read(ctx, p("over.json"))
		require.NoError(t, err)
		assert.Equal(t, "2", string(got))
	})
	t.Run("list returns sorted file names only", func(t *testing.T) {
		for _, n := range []string{"l/2.json", "l/1.json", "l/sub/3.json"} {
			require.NoError(t, s.Write(ctx, p(n), []byte("x"), true))
		}
		names, err := s.List(ctx, p("l"))
		require.NoError(t, err)
		assert.Equal(t, []string{"1.json", "2.json"}, names)
	})
	t.Run("delete removes", func(t *testing.T) {
		require.NoError(t, s.Write(ctx, p("del.json"), []byte("x"), true))
		require.NoError(t, s.Delete(ctx, p("del.json")))
		_, err := s.Read(ctx, p("del.json"))
		assert.ErrorIs(t, err, release.ErrNotExist)
	})
	t.Run("concurrent create-only writes: exactly one wins", func(t *testing.T) {
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = s.Write(ctx, p("race.json"), []byte(strconv.Itoa(i)), false)
			}(i)
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else {
				assert.ErrorIs(t, err, release.ErrExist)
			}
		}
		assert.Equal(t, 1, wins)
	})
}
