package magebin

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/magefile/mage/mage"
	"github.com/magefile/mage/mg"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tree writes a small repository layout: go.mod, go.sum and magefiles/.
func tree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range map[string]string{
		"go.mod":                           "module example.com/x\n",
		"go.sum":                           "",
		"magefiles/ci.go":                  "//go:build mage\npackage main\n",
		"magefiles/cd/flows.go":            "package cd\n",
		"magefiles/cd/flows_test.go":       "package cd\n",
		"magefiles/cd/testdata/golden.txt": "golden\n",
		"magefiles/emulator/model.json":    "{}\n",
	} {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return root
}

func TestKeyFollowsWhatTheBinaryIsBuiltFrom(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(t *testing.T, root string)
		changes bool
	}{
		{"nothing changed", func(*testing.T, string) {}, false},
		{"a target file", appendTo("magefiles/ci.go", "// more\n"), true},
		{"a package file", appendTo("magefiles/cd/flows.go", "// more\n"), true},
		{"a non-Go file a package may embed", appendTo("magefiles/emulator/model.json", " "), true},
		{"a new package file", appendTo("magefiles/cd/stage.go", "package cd\n"), true},
		{"go.mod", appendTo("go.mod", "require example.com/y v1.0.0\n"), true},
		{"go.sum", appendTo("go.sum", "example.com/y v1.0.0 h1:x\n"), true},
		{"a test file", appendTo("magefiles/cd/flows_test.go", "// more\n"), false},
		{"test data", appendTo("magefiles/cd/testdata/golden.txt", "more\n"), false},
		{"mage's generated main file", appendTo("magefiles/mage_output_file.go", "package main\n"), false},
		{"a file outside magefiles", appendTo("src/model.py", "x = 1\n"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := tree(t)
			before, err := Key(root)
			require.NoError(t, err)
			tt.edit(t, root)
			after, err := Key(root)
			require.NoError(t, err)
			if tt.changes {
				assert.NotEqual(t, before, after)
			} else {
				assert.Equal(t, before, after)
			}
		})
	}
}

func TestKeyFollowsTheBuildEnvironment(t *testing.T) {
	root := tree(t)
	t.Setenv("GOFLAGS", "")
	before, err := Key(root)
	require.NoError(t, err)
	t.Setenv("GOFLAGS", "-tags=extra")
	after, err := Key(root)
	require.NoError(t, err)
	assert.NotEqual(t, before, after)
}

func TestKeyWithoutMagefilesFails(t *testing.T) {
	_, err := Key(t.TempDir())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "hash magefiles")
}

func appendTo(rel, text string) func(*testing.T, string) {
	return func(t *testing.T, root string) {
		p := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		_, err = f.WriteString(text)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		args []string
		want mode
	}{
		{[]string{"ci"}, runTargets},
		{[]string{"-v", "deploy:prod", "-yes"}, runTargets},
		{[]string{"-l"}, runTargets},
		{[]string{"-h", "rollback"}, runTargets},
		{[]string{"-t", "5m", "ci"}, runTargets},
		{[]string{"-f", "ci"}, runTargets},
		{[]string{"-compile", "/tmp/m"}, compileTo},
		{[]string{"-compile", "/tmp/m", "-goos", "windows"}, exclusive},
		{[]string{"-version"}, passThrough},
		{[]string{"-clean"}, passThrough},
		{[]string{"-autocomplete"}, passThrough},
		{[]string{"-init"}, exclusive},
		{[]string{"-debug", "ci"}, exclusive},
		{[]string{"-keep", "ci"}, exclusive},
		{[]string{"-d", "magefiles", "ci"}, exclusive},
		{[]string{"-gocmd", "/opt/go/bin/go", "ci"}, exclusive},
	}
	for _, tt := range tests {
		t.Run(filepath.Join(tt.args...), func(t *testing.T) {
			var out bytes.Buffer
			inv, cmd, err := mage.Parse(&out, &out, tt.args)
			require.NoError(t, err)
			assert.Equal(t, tt.want, classify(inv, cmd))
		})
	}
	assert.Equal(t, "go", mg.GoCmd(), "the tests assume the default go command")
}

func TestRunRejectsBadFlagsBeforeCompiling(t *testing.T) {
	root := tree(t)
	var out bytes.Buffer
	r := Runner{Root: root, CacheDir: filepath.Join(root, "cache"), Stdout: &out, Stderr: &out}
	assert.Equal(t, 2, r.Run([]string{"-nosuchflag", "ci"}))
	assert.Contains(t, out.String(), "flag provided but not defined: -nosuchflag")
	assert.NoDirExists(t, filepath.Join(root, "cache"), "nothing compiled for a bad command line")
}

func TestEnsureReusesABuiltBinary(t *testing.T) {
	root := tree(t)
	cache := filepath.Join(root, "cache")
	key, err := Key(root)
	require.NoError(t, err)
	bin := filepath.Join(cache, key, "mage")
	require.NoError(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))

	var out bytes.Buffer
	r := Runner{Root: root, CacheDir: cache, Stdout: &out, Stderr: &out}
	got, code := r.Ensure(false)
	require.Equal(t, 0, code, out.String())
	assert.Equal(t, bin, got)
	assert.Empty(t, out.String(), "a warm run compiles nothing and says nothing")
}

func TestEnsureReportsACompileFailure(t *testing.T) {
	// A target calling an undefined function: go build fails, the failure
	// must come back as a non-zero code with the compiler's message, and no
	// binary is cached.
	root := tree(t)
	appendTo("magefiles/ci.go", "func Broken() { undefinedHelper() }\n")(t, root)
	cache := filepath.Join(root, "cache")
	var out bytes.Buffer
	r := Runner{Root: root, CacheDir: cache, Stdout: &out, Stderr: &out}
	_, code := r.Ensure(false)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out.String(), "undefinedHelper")
	entries, err := os.ReadDir(cache)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, e.IsDir(), "no binary directory after a failed build: %s", e.Name())
	}
}

func TestPruneKeepsTheMostRecentlyUsed(t *testing.T) {
	dir := t.TempDir()
	base := time.Now().Add(-time.Hour)
	for i, name := range []string{"a", "b", "c", "d", "e"} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.Mkdir(p, 0o755))
		at := base.Add(time.Duration(i) * time.Minute)
		require.NoError(t, os.Chtimes(p, at, at))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, ".build-x"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lock"), nil, 0o644))

	require.NoError(t, prune(dir, 3))

	var left []string
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	assert.ElementsMatch(t, []string{".build-x", "c", "d", "e", "lock"}, left,
		"the three newest stay; a build in progress and the lock are not binaries")
}

func TestCopyExecutable(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	require.NoError(t, os.WriteFile(src, []byte("binary"), 0o600))
	dst := filepath.Join(dir, "dst")
	require.NoError(t, copyExecutable(src, dst))
	b, err := os.ReadFile(dst)
	require.NoError(t, err)
	assert.Equal(t, "binary", string(b))
	info, err := os.Stat(dst)
	require.NoError(t, err)
	assert.NotZero(t, info.Mode()&0o100, "the copy is executable")

	err = copyExecutable(src, filepath.Join(dir, "missing", "dst"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing/dst")
}
