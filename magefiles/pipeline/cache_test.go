package pipeline

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

// cacheFixture is a repository with Go and Python files, a Go check and a
// Python check, counting how often each really runs.
type cacheFixture struct {
	root           string
	goRuns, pyRuns atomic.Int32
	toolVersion    string
	config         string
	pyFails        atomic.Bool
}

func newCacheFixture(t *testing.T) *cacheFixture {
	f := &cacheFixture{root: t.TempDir(), toolVersion: "black 24.2.0", config: "line-length=100"}
	writeFile(t, f.root, "go.mod", "module x\n")
	writeFile(t, f.root, "magefiles/ci.go", "package main\n")
	writeFile(t, f.root, "src/agent/graph.py", "x = 1\n")
	writeFile(t, f.root, "tests/unit/test_graph.py", "def test(): pass\n")
	writeFile(t, f.root, "artifacts/ci-report.json", "{}") // output, never an input
	return f
}

func (f *cacheFixture) tasks() []Task {
	return []Task{
		{
			Name:   "gofmt",
			Inputs: Inputs{Files: []string{"**/*.go", "go.mod"}},
			Run:    func(context.Context, *T) error { f.goRuns.Add(1); return nil },
		},
		{
			Name: "python-lint",
			Inputs: Inputs{
				Files:   []string{"src/**/*.py", "tests/**/*.py"},
				Config:  []string{f.config},
				Version: func(context.Context) (string, error) { return f.toolVersion, nil },
			},
			Run: func(_ context.Context, tt *T) error {
				f.pyRuns.Add(1)
				tt.Summary("2 files clean")
				if f.pyFails.Load() {
					return errors.New("would reformat src/agent/graph.py")
				}
				return nil
			},
		},
	}
}

func (f *cacheFixture) run(t *testing.T, mutate func(o *Options)) *Report {
	t.Helper()
	var out bytes.Buffer
	opts := Options{Root: f.root, Out: &out, Getenv: func(string) string { return "" }}
	if mutate != nil {
		mutate(&opts)
	}
	rep, _ := Run(context.Background(), f.tasks(), opts)
	return rep
}

func TestCache(t *testing.T) {
	f := newCacheFixture(t)

	rep := f.run(t, nil)
	assert.Equal(t, map[string]Status{"gofmt": StatusPass, "python-lint": StatusPass}, statuses(rep))

	t.Run("unchanged inputs are cached", func(t *testing.T) {
		rep := f.run(t, nil)
		assert.Equal(t, map[string]Status{"gofmt": StatusCached, "python-lint": StatusCached}, statuses(rep))
		r, _ := rep.Result("python-lint")
		assert.Equal(t, "2 files clean", r.Summary, "a cached result keeps its last summary")
		assert.Equal(t, int32(1), f.pyRuns.Load())
	})

	t.Run("editing a Python file re-runs only the Python check", func(t *testing.T) {
		writeFile(t, f.root, "src/agent/graph.py", "x = 2\n")
		rep := f.run(t, nil)
		assert.Equal(t, map[string]Status{"gofmt": StatusCached, "python-lint": StatusPass}, statuses(rep))
	})

	t.Run("a new matching file invalidates", func(t *testing.T) {
		writeFile(t, f.root, "magefiles/pipeline/new.go", "package pipeline\n")
		rep := f.run(t, nil)
		assert.Equal(t, map[string]Status{"gofmt": StatusPass, "python-lint": StatusCached}, statuses(rep))
	})

	t.Run("artifacts are not inputs", func(t *testing.T) {
		writeFile(t, f.root, "artifacts/x.go", "package x\n")
		rep := f.run(t, nil)
		assert.Equal(t, StatusCached, statuses(rep)["gofmt"])
	})

	t.Run("a tool version change invalidates", func(t *testing.T) {
		f.toolVersion = "black 24.3.0"
		rep := f.run(t, nil)
		assert.Equal(t, StatusPass, statuses(rep)["python-lint"])
		assert.Equal(t, StatusCached, statuses(rep)["gofmt"])
	})

	t.Run("a config change invalidates", func(t *testing.T) {
		f.config = "line-length=88"
		rep := f.run(t, nil)
		assert.Equal(t, StatusPass, statuses(rep)["python-lint"])
	})

	t.Run("no-cache runs everything", func(t *testing.T) {
		before := f.goRuns.Load()
		rep := f.run(t, func(o *Options) { o.NoCache = true })
		assert.Equal(t, map[string]Status{"gofmt": StatusPass, "python-lint": StatusPass}, statuses(rep))
		assert.Equal(t, before+1, f.goRuns.Load())
	})

	t.Run("a failure drops the previous pass", func(t *testing.T) {
		require.Equal(t, StatusCached, statuses(f.run(t, nil))["python-lint"])
		writeFile(t, f.root, "src/agent/graph.py", "x = 3\n")
		f.pyFails.Store(true)
		assert.Equal(t, StatusFail, statuses(f.run(t, nil))["python-lint"])
		f.pyFails.Store(false)
		// Back to the inputs of the last pass: the failure in between must
		// have removed that pass, so the check really runs.
		writeFile(t, f.root, "src/agent/graph.py", "x = 2\n")
		assert.Equal(t, StatusPass, statuses(f.run(t, nil))["python-lint"])
	})
}

func TestTaskWithoutInputsIsNeverCached(t *testing.T) {
	root := t.TempDir()
	var runs atomic.Int32
	tasks := []Task{{Name: "always", Run: func(context.Context, *T) error { runs.Add(1); return nil }}}
	for i := 0; i < 2; i++ {
		var out bytes.Buffer
		_, err := Run(context.Background(), tasks, Options{Root: root, Out: &out})
		require.NoError(t, err)
	}
	assert.Equal(t, int32(2), runs.Load())
}

func TestEnvInputInvalidates(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "a.txt", "a")
	env := "1"
	tasks := []Task{{Name: "e", Inputs: Inputs{Files: []string{"*.txt"}, Env: []string{"STRICT"}}, Run: ok}}
	run := func() Status {
		var out bytes.Buffer
		rep, err := Run(context.Background(), tasks, Options{Root: root, Out: &out, Getenv: func(string) string { return env }})
		require.NoError(t, err)
		return rep.Results[0].Status
	}
	assert.Equal(t, StatusPass, run())
	assert.Equal(t, StatusCached, run())
	env = "0"
	assert.Equal(t, StatusPass, run())
}

// TestExtraInputs: a task's Extra decides more of its key at run time: its
// description and the files it adds count, and an error runs it uncached.
func TestExtraInputs(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "go.mod", "module x\n")
	writeFile(t, root, "a/a.go", "package a\n")
	desc, more, fail := "nothing linked", []string(nil), false
	tasks := []Task{{Name: "x", Inputs: Inputs{Files: []string{"go.mod"}, Extra: func(context.Context) (string, []string, error) {
		if fail {
			return "", nil, errors.New("no database yet")
		}
		return desc, more, nil
	}}, Run: ok}}
	run := func() Status {
		var out bytes.Buffer
		rep, err := Run(context.Background(), tasks, Options{Root: root, Out: &out, Getenv: func(string) string { return "" }})
		require.NoError(t, err)
		return rep.Results[0].Status
	}
	assert.Equal(t, StatusPass, run())
	assert.Equal(t, StatusCached, run())
	writeFile(t, root, "a/a.go", "package a\n\nvar X = 1\n")
	assert.Equal(t, StatusCached, run(), "a/a.go is not an input yet")
	desc, more = "one covered package linked", []string{"**/*.go"}
	assert.Equal(t, StatusPass, run())
	assert.Equal(t, StatusCached, run())
	writeFile(t, root, "a/a.go", "package a\n\nvar X = 2\n")
	assert.Equal(t, StatusPass, run(), "now every Go file counts")
	fail = true
	assert.Equal(t, StatusPass, run())
	assert.Equal(t, StatusPass, run(), "undecidable: never cached")
}

func TestArtifactsAreOutputOnlyAtTheRoot(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "artifacts/ci-report.json", "{}")
	writeFile(t, root, "magefiles/artifacts/paths.go", "package artifacts\n")
	files, err := newFileIndex(root).match([]string{"**"})
	require.NoError(t, err)
	assert.Equal(t, []string{"magefiles/artifacts/paths.go"}, files)
}

func TestNamesInputCountsPathsNotContents(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "main.go", "package main\n")
	writeFile(t, root, "src/model.py", "x = 1\n")
	tasks := []Task{{Name: "copy", Inputs: Inputs{Files: []string{"*.go"}, Names: []string{"src/**"}}, Run: ok}}
	run := func() Status {
		var out bytes.Buffer
		rep, err := Run(context.Background(), tasks, Options{Root: root, Out: &out})
		require.NoError(t, err)
		return rep.Results[0].Status
	}
	assert.Equal(t, StatusPass, run())
	assert.Equal(t, StatusCached, run())
	writeFile(t, root, "src/model.py", "x = 2\n")
	assert.Equal(t, StatusCached, run(), "a changed content of a Names input keeps the cache")
	writeFile(t, root, "src/extra.py", "y = 1\n")
	assert.Equal(t, StatusPass, run(), "a new file matching Names invalidates")
	require.NoError(t, os.Remove(filepath.Join(root, "src", "extra.py")))
	assert.Equal(t, StatusPass, run(), "a removed file matching Names invalidates")
	writeFile(t, root, "main.go", "package main // changed\n")
	assert.Equal(t, StatusPass, run(), "Files still count by content")
}

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"**/*.go", "main.go", true},
		{"**/*.go", "magefiles/pipeline/runner.go", true},
		{"**/*.go", "magefiles/pipeline/runner.py", false},
		{"src/**", "src/a/b/c.py", true},
		{"src/**/*.py", "src/a.py", true},
		{"src/**/*.py", "tests/a.py", false},
		{"go.sum", "go.sum", true},
		{"go.sum", "x/go.sum", false},
		{"resources/*.yml", "resources/job.yml", true},
		{"resources/*.yml", "resources/sub/job.yml", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, matchGlob(tt.pattern, tt.name))
		})
	}
}

func writeFileB(b *testing.B, root, rel, content string) {
	b.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
}
