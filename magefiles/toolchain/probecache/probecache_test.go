package probecache

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// past is a modification time well outside RacyWindow.
var past = time.Now().Add(-time.Hour)

// fixture is a cache and two files an answer depends on, the second
// absent, both dated in the past so a store is trusted.
type fixture struct {
	cache         Cache
	file, missing string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{cache: Cache{Dir: filepath.Join(dir, "cache")}, file: filepath.Join(dir, "interpreter"), missing: filepath.Join(dir, "site-packages")}
	require.NoError(t, os.WriteFile(f.file, []byte("v1"), 0o644))
	require.NoError(t, os.Chtimes(f.file, past, past))
	return f
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, f fixture)
		hit    bool
	}{
		{"unchanged files: hit", func(*testing.T, fixture) {}, true},
		{"modification time changed", func(t *testing.T, f fixture) {
			require.NoError(t, os.Chtimes(f.file, past.Add(time.Second), past.Add(time.Second)))
		}, false},
		{"size changed, time restored", func(t *testing.T, f fixture) {
			require.NoError(t, os.WriteFile(f.file, []byte("v22"), 0o644))
			require.NoError(t, os.Chtimes(f.file, past, past))
		}, false},
		{"file removed", func(t *testing.T, f fixture) { require.NoError(t, os.Remove(f.file)) }, false},
		{"absent file appeared", func(t *testing.T, f fixture) { require.NoError(t, os.Mkdir(f.missing, 0o755)) }, false},
		{"entry not JSON", func(t *testing.T, f fixture) { rewriteEntry(t, f, nil) }, false},
		{"entry cut short", func(t *testing.T, f fixture) {
			b, err := os.ReadFile(f.cache.path("q"))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(f.cache.path("q"), b[:len(b)/2], 0o600))
		}, false},
		{"entry of another format", func(t *testing.T, f fixture) { rewriteEntry(t, f, func(e *entry) { e.Format = Format + 1 }) }, false},
		{"entry of another key in its file", func(t *testing.T, f fixture) { rewriteEntry(t, f, func(e *entry) { e.Key = "other" }) }, false},
		{"entry without stamps", func(t *testing.T, f fixture) { rewriteEntry(t, f, func(e *entry) { e.Stamps = nil }) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			require.NoError(t, f.cache.Store("q", time.Now(), []string{f.file, f.missing}, []byte("answer")))
			tt.change(t, f)
			got, ok := f.cache.Load("q")
			assert.Equal(t, tt.hit, ok)
			if tt.hit {
				assert.Equal(t, "answer", string(got))
			} else {
				assert.Nil(t, got)
			}
		})
	}
}

// rewriteEntry replaces the stored entry of key "q": edited by edit, or
// with bytes that are not JSON when edit is nil.
func rewriteEntry(t *testing.T, f fixture, edit func(*entry)) {
	t.Helper()
	p := f.cache.path("q")
	b := []byte("\x00not json{")
	if edit != nil {
		var e entry
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &e))
		edit(&e)
		b, err = json.Marshal(e)
		require.NoError(t, err)
	}
	require.NoError(t, os.WriteFile(p, b, 0o600))
}

func TestLoadMissesWithoutEntry(t *testing.T) {
	_, ok := Cache{Dir: filepath.Join(t.TempDir(), "none")}.Load("q")
	assert.False(t, ok)
}

func TestStoreReplacesAStaleEntry(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.cache.Store("q", time.Now(), []string{f.file}, []byte("old")))
	require.NoError(t, os.Chtimes(f.file, past.Add(time.Minute), past.Add(time.Minute)))
	_, ok := f.cache.Load("q")
	require.False(t, ok, "stale")
	require.NoError(t, f.cache.Store("q", time.Now(), []string{f.file}, []byte("new")))
	got, ok := f.cache.Load("q")
	require.True(t, ok)
	assert.Equal(t, "new", string(got))
	entries, err := os.ReadDir(f.cache.Dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "one file per key, no temporary files left")
}

func TestStoreSkipsAnAnswerOlderThanItsFiles(t *testing.T) {
	tests := []struct {
		name    string
		modTime time.Time // of the file, relative to the probe's start
		stored  bool
	}{
		{"changed long before the probe", past, true},
		{"changed during the probe", time.Now().Add(time.Minute), false},
		{"changed just before the probe, within the clock's rounding", time.Now().Add(-RacyWindow / 2), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			require.NoError(t, os.Chtimes(f.file, tt.modTime, tt.modTime))
			require.NoError(t, f.cache.Store("q", time.Now(), []string{f.file}, []byte("answer")))
			_, ok := f.cache.Load("q")
			assert.Equal(t, tt.stored, ok)
		})
	}
}

func TestStoreNeedsAFile(t *testing.T) {
	assert.Error(t, Cache{Dir: t.TempDir()}.Store("q", time.Now(), nil, []byte("answer")))
}

// Concurrent runs write the same entry at once: a reader always finds a
// whole entry (the old one or a new one, never a part), and one entry
// file remains.
func TestConcurrentWriters(t *testing.T) {
	f := newFixture(t)
	const writers = 16
	answer := func(i int) []byte {
		return []byte(fmt.Sprintf(`{"writer":%d,"pad":"%s"}`, i, strings.Repeat("x", 4096)))
	}
	require.NoError(t, f.cache.Store("q", time.Now(), []string{f.file}, answer(-1)))
	var wg sync.WaitGroup
	errs := make(chan error, writers*2)
	for i := 0; i < writers; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if err := f.cache.Store("q", time.Now(), []string{f.file}, answer(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				got, ok := f.cache.Load("q")
				if !ok || !json.Valid(got) {
					errs <- fmt.Errorf("no whole entry while writers replace it: found=%t %.40q", ok, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, ok := f.cache.Load("q")
	require.True(t, ok)
	assert.True(t, json.Valid(got))
	entries, err := os.ReadDir(f.cache.Dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary files left behind")
}
