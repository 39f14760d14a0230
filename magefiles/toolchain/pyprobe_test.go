package toolchain

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// past is a modification time the disk cache trusts (well before any
// probe starts).
var past = time.Now().Add(-time.Hour)

// standIn is an interpreter made of a shell script that answers the probe
// as Python 3.7 would and counts its starts, with a site-packages folder
// and a user site-packages folder (absent) in its answer.
type standIn struct {
	python, site, userSite, starts string
}

// newStandIn installs a stand-in under the prefix dir (bin/python3.7).
func newStandIn(t *testing.T, dir string) standIn {
	t.Helper()
	s := standIn{
		python:   filepath.Join(dir, "bin", "python3.7"),
		site:     filepath.Join(dir, "lib", "python3.7", "site-packages"),
		userSite: filepath.Join(dir, "home", ".local", "lib", "python3.7", "site-packages"),
		starts:   filepath.Join(dir, "starts"),
	}
	require.NoError(t, os.MkdirAll(filepath.Dir(s.python), 0o755))
	require.NoError(t, os.MkdirAll(s.site, 0o755))
	answer := fmt.Sprintf(`{"version":"3.7","full":"3.7.18","modules":{"pytest":false},"dists":{},"paths":[%q,%q]}`, s.site, s.userSite)
	script := fmt.Sprintf("#!/bin/sh\necho started >> '%s'\necho '%s'\n", s.starts, answer)
	require.NoError(t, os.WriteFile(s.python, []byte(script), 0o755))
	for _, p := range []string{s.python, s.site} {
		require.NoError(t, os.Chtimes(p, past, past))
	}
	return s
}

// count is how many times the stand-in was started.
func (s standIn) count(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(s.starts)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	return strings.Count(string(b), "started\n")
}

// probeAsNewRun probes python the way a new `mage ci` run does: nothing in
// memory, the disk cache in dir.
func probeAsNewRun(t *testing.T, dir, python string) *pythonInfo {
	t.Helper()
	info, err := NewPythons(dir).probe(context.Background(), python)
	require.NoError(t, err)
	return info
}

// entryFile is the one entry in a cache directory.
func entryFile(t *testing.T, dir string) string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NoError(t, err)
	require.Len(t, matches, 1, "one entry per interpreter")
	return matches[0]
}

// editAnswer changes the answer stored in the cache directory's entry,
// leaving its stamps alone.
func editAnswer(t *testing.T, dir string, edit func(answer map[string]any) string) {
	t.Helper()
	p := entryFile(t, dir)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	// Raw values: nanosecond times do not survive a float64.
	var e map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &e))
	var text string
	require.NoError(t, json.Unmarshal(e["answer"], &text))
	var answer map[string]any
	require.NoError(t, json.Unmarshal([]byte(text), &answer))
	e["answer"], err = json.Marshal(edit(answer))
	require.NoError(t, err)
	b, err = json.Marshal(e)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, b, 0o600))
}

func TestProbeDiskCache(t *testing.T) {
	tests := []struct {
		name string
		// change happens between the first run and the second.
		change func(t *testing.T, s standIn, cache string)
		// starts after the second and third runs: a miss starts the
		// interpreter; a rewritten entry spares the third run.
		second, third int
	}{
		{"unchanged: answered from the cache", func(*testing.T, standIn, string) {}, 1, 1},
		{"interpreter file's modification time changed", func(t *testing.T, s standIn, _ string) {
			require.NoError(t, os.Chtimes(s.python, past.Add(time.Minute), past.Add(time.Minute)))
		}, 2, 2},
		{"interpreter replaced by a bigger one, time kept", func(t *testing.T, s standIn, _ string) {
			f, err := os.OpenFile(s.python, os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = io.WriteString(f, "# rebuilt\n")
			require.NoError(t, err)
			require.NoError(t, f.Close())
			require.NoError(t, os.Chtimes(s.python, past, past))
		}, 2, 2},
		{"a distribution installed into site-packages", func(t *testing.T, s standIn, _ string) {
			require.NoError(t, os.Mkdir(filepath.Join(s.site, "pytest"), 0o755))
			require.NoError(t, os.Chtimes(s.site, past.Add(time.Minute), past.Add(time.Minute)))
		}, 2, 2},
		{"a distribution installed a moment ago: not trusted until it settles", func(t *testing.T, s standIn, _ string) {
			require.NoError(t, os.Mkdir(filepath.Join(s.site, "pytest"), 0o755))
		}, 2, 3},
		{"the user's site-packages created", func(t *testing.T, s standIn, _ string) {
			require.NoError(t, os.MkdirAll(s.userSite, 0o755))
			require.NoError(t, os.Chtimes(s.userSite, past, past))
		}, 2, 2},
		{"a pyvenv.cfg beside the interpreter", func(t *testing.T, s standIn, _ string) {
			cfg := filepath.Join(filepath.Dir(s.python), "pyvenv.cfg")
			require.NoError(t, os.WriteFile(cfg, []byte("home = /usr/bin\n"), 0o644))
			require.NoError(t, os.Chtimes(cfg, past, past))
		}, 2, 2},
		{"PYTHONPATH set", func(t *testing.T, _ standIn, _ string) {
			t.Setenv("PYTHONPATH", t.TempDir())
		}, 2, 2},
		{"corrupt entry", func(t *testing.T, _ standIn, cache string) {
			require.NoError(t, os.WriteFile(entryFile(t, cache), []byte("{\"format\":1,\"key\":"), 0o600))
		}, 2, 2},
		{"entry whose answer does not parse", func(t *testing.T, _ standIn, cache string) {
			editAnswer(t, cache, func(map[string]any) string { return "Traceback (most recent call last):" })
		}, 2, 2},
		{"entry whose answer lacks the version", func(t *testing.T, _ standIn, cache string) {
			editAnswer(t, cache, func(map[string]any) string { return "{}" })
		}, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStandIn(t, t.TempDir())
			cache := t.TempDir()
			first := probeAsNewRun(t, cache, s.python)
			require.Equal(t, 1, s.count(t))
			tt.change(t, s, cache)
			assert.Equal(t, first, probeAsNewRun(t, cache, s.python))
			assert.Equal(t, tt.second, s.count(t), "starts after the second run")
			assert.Equal(t, first, probeAsNewRun(t, cache, s.python))
			assert.Equal(t, tt.third, s.count(t), "starts after the third run")
		})
	}
}

func TestProbeWithoutCacheDirStartsEveryRun(t *testing.T) {
	s := newStandIn(t, t.TempDir())
	for range 2 {
		probeAsNewRun(t, "", s.python)
	}
	assert.Equal(t, 2, s.count(t))
}

// Several runs probing at once share one cache directory: each gets the
// whole answer, and the entry they leave answers the next run.
func TestProbeConcurrentRuns(t *testing.T) {
	s := newStandIn(t, t.TempDir())
	cache := t.TempDir()
	const runs = 8
	infos := make([]*pythonInfo, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			infos[i], errs[i] = NewPythons(cache).probe(context.Background(), s.python)
		}()
	}
	wg.Wait()
	for i := range runs {
		require.NoError(t, errs[i])
		assert.Equal(t, "3.7.18", infos[i].Full)
	}
	started := s.count(t)
	assert.Equal(t, "3.7.18", probeAsNewRun(t, cache, s.python).Full)
	assert.Equal(t, started, s.count(t), "the next run is answered from the cache")
	entries, err := os.ReadDir(cache)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "one entry, no temporary files left")
}

// A run's prefetch leaves every answer on disk once waited for: the next
// run starts none of the interpreters.
func TestPrefetchWaitStoresEveryAnswer(t *testing.T) {
	root, _ := fakePyenv(t)
	s := newStandIn(t, filepath.Join(root, "versions", "3.7.18"))
	cache := t.TempDir()
	wait := NewPythons(cache).Prefetch(context.Background(), "3.7")
	wait()
	require.Equal(t, 1, s.count(t))
	_, err := NewPythons(cache).Find(context.Background(), "3.7", "pytest")
	var missing *MissingError
	require.ErrorAs(t, err, &missing, "the stand-in lacks pytest")
	assert.Equal(t, 1, s.count(t), "answered from the cache")
}

// realPythons are the interpreters the CI matrix would use here: the
// system python3 and pyenv's builds of 3.9 to 3.11, one per file.
func realPythons(t testing.TB) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	for _, v := range []string{"", "3.9", "3.10", "3.11"} {
		for _, c := range pythonCandidates(v) {
			file, dir := interpreterID(c)
			if _, err := os.Stat(c); err != nil || isPyenvShim(c) || seen[file+dir] {
				continue
			}
			seen[file+dir] = true
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Skip("no Python interpreter here")
	}
	return out
}

// copyInterpreter copies a real interpreter into a folder of its own, so
// its file can be touched; it still finds its library by its build prefix.
func copyInterpreter(t *testing.T, python string) string {
	t.Helper()
	file, _ := interpreterID(python)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	cp := filepath.Join(t.TempDir(), "bin", filepath.Base(python))
	require.NoError(t, os.MkdirAll(filepath.Dir(cp), 0o755))
	require.NoError(t, os.WriteFile(cp, b, 0o755))
	require.NoError(t, os.Chtimes(cp, past, past))
	return cp
}

func TestProbeDiskCacheRealInterpreters(t *testing.T) {
	for _, python := range realPythons(t) {
		t.Run(describePython(python), func(t *testing.T) {
			tests := []struct {
				name string
				// change happens after the first run, which was stored
				// and then marked: the second run reads the mark when
				// it is answered from the cache.
				change func(t *testing.T, python string)
				hit    bool
			}{
				{"unchanged", func(*testing.T, string) {}, true},
				{"interpreter file's modification time changed", func(t *testing.T, python string) {
					require.NoError(t, os.Chtimes(python, past.Add(time.Minute), past.Add(time.Minute)))
				}, false},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					cp := copyInterpreter(t, python)
					cache := t.TempDir()
					real := probeAsNewRun(t, cache, cp)
					require.NotEmpty(t, real.Paths, "the folders imports search")
					editAnswer(t, cache, func(a map[string]any) string {
						a["full"] = "marked"
						b, err := json.Marshal(a)
						require.NoError(t, err)
						return string(b)
					})
					tt.change(t, cp)
					got := probeAsNewRun(t, cache, cp)
					if tt.hit {
						assert.Equal(t, "marked", got.Full)
					} else {
						assert.Equal(t, real, got)
					}
				})
			}
		})
	}
}

// Installing a distribution changes a folder the interpreter imports
// from (here the user's site-packages, which comes before the system's):
// the next run asks the interpreter again and sees the new version.
func TestProbeDiskCacheSeesAnInstall(t *testing.T) {
	for _, python := range realPythons(t) {
		t.Run(describePython(python), func(t *testing.T) {
			base := t.TempDir()
			t.Setenv("PYTHONUSERBASE", base)
			cache := t.TempDir()
			before := probeAsNewRun(t, cache, python)
			require.NotEqual(t, "99.0", before.Dists["bandit"])
			userSite := filepath.Join(base, "lib", "python"+before.Version, "site-packages")
			require.Contains(t, before.Paths, userSite)
			assert.Equal(t, before, probeAsNewRun(t, cache, python), "nothing installed yet")

			meta := filepath.Join(userSite, "bandit-99.0.dist-info", "METADATA")
			require.NoError(t, os.MkdirAll(filepath.Dir(meta), 0o755))
			require.NoError(t, os.WriteFile(meta, []byte("Metadata-Version: 2.1\nName: bandit\nVersion: 99.0\n"), 0o644))
			assert.Equal(t, "99.0", probeAsNewRun(t, cache, python).Dists["bandit"])
		})
	}
}

// BenchmarkProbe is what a run's interpreter lookups cost: every
// interpreter of the matrix probed with nothing known (cold) and answered
// from a warm disk cache (cached), each as a new run with empty memory.
func BenchmarkProbe(b *testing.B) {
	pythons := realPythons(b)
	probeAll := func(b *testing.B, dir string) {
		ps := NewPythons(dir)
		for _, p := range pythons {
			if _, err := ps.probe(context.Background(), p); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			probeAll(b, "")
		}
		b.ReportMetric(float64(len(pythons)), "interpreters")
	})
	b.Run("cached", func(b *testing.B) {
		dir := b.TempDir()
		probeAll(b, dir)
		for b.Loop() {
			probeAll(b, dir)
		}
		b.ReportMetric(float64(len(pythons)), "interpreters")
	})
}
