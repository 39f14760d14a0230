package toolchain

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFindPythonMissingInterpreter(t *testing.T) {
	_, err := NewPythons("").Find(context.Background(), "3.4")
	require.Error(t, err)
	assert.True(t, IsNoInterpreter(err))
	assert.Equal(t, "python3.4 not found", err.Error())

	// EnsureVersion never tries to provision a missing interpreter.
	_, err = NewPythons("").EnsureVersion(context.Background(), "3.4", func(s string) { t.Fatalf("no install expected: %s", s) }, "pytest")
	assert.True(t, IsNoInterpreter(err))
}

func TestFindPythonMissingModuleNamesTheFix(t *testing.T) {
	_, err := NewPythons("").Find(context.Background(), "", "surely_not_installed_module")
	var missing *MissingError
	require.ErrorAs(t, err, &missing)
	assert.False(t, missing.NoInterpreter)
	assert.Contains(t, missing.What, "lacks Python modules: surely_not_installed_module")
	assert.True(t, strings.Contains(missing.Fix, "apt-get install -y python3-surely-not-installed-module") ||
		strings.Contains(missing.Fix, "-m pip install surely_not_installed_module"), missing.Fix)
}

func TestInstallCommand(t *testing.T) {
	assert.Equal(t, "sudo apt-get install -y black python3-pytest python3-pytest-xdist",
		InstallCommand([]string{"xdist", "pytest", "black", "pytest"}))
}

func TestDistVersions(t *testing.T) {
	ps := NewPythons("")
	py, err := ps.Find(context.Background(), "", "pytest")
	if err != nil {
		t.Skipf("no interpreter with pytest: %v", err)
	}
	v, err := ps.DistVersions(context.Background(), py, "pytest", "xdist")
	require.NoError(t, err)
	lines := strings.Split(v, "\n")
	require.Len(t, lines, 3)
	assert.True(t, strings.HasPrefix(lines[0], py.Path+" 3."), lines[0])
	assert.Regexp(t, `^pytest \d`, lines[1])
	assert.True(t, strings.HasPrefix(lines[2], "pytest-xdist "), lines[2])
	again, err := ps.DistVersions(context.Background(), py, "pytest", "xdist")
	require.NoError(t, err)
	assert.Equal(t, v, again)
}

// fakePyenv makes a pyenv root whose versions folder holds stand-in
// interpreters answering the probe as the given version, and a shims
// folder whose python<version> records that it was started.
func fakePyenv(t *testing.T, versions ...string) (root, shimMarker string) {
	t.Helper()
	root = t.TempDir()
	shimMarker = filepath.Join(root, "shim-was-run")
	shims := filepath.Join(root, "shims")
	require.NoError(t, os.MkdirAll(shims, 0o755))
	for _, v := range versions {
		minor := v[:strings.LastIndex(v, ".")]
		bin := filepath.Join(root, "versions", v, "bin")
		require.NoError(t, os.MkdirAll(bin, 0o755))
		probe := fmt.Sprintf("#!/bin/sh\necho '{\"version\":\"%s\",\"full\":\"%s\",\"modules\":{\"pytest\":false},\"dists\":{}}'\n", minor, v)
		require.NoError(t, os.WriteFile(filepath.Join(bin, "python"+minor), []byte(probe), 0o755))
		shim := fmt.Sprintf("#!/bin/sh\ntouch %s\nexit 127\n", shimMarker)
		require.NoError(t, os.WriteFile(filepath.Join(shims, "python"+minor), []byte(shim), 0o755))
	}
	t.Setenv("PYENV_ROOT", root)
	t.Setenv("PATH", shims+string(os.PathListSeparator)+os.Getenv("PATH"))
	return root, shimMarker
}

func TestFindPythonReadsPyenvVersionsNotShims(t *testing.T) {
	root, shimMarker := fakePyenv(t, "3.7.2", "3.7.18", "3.7.9")
	// 3.7: no Debian interpreter of that version on any supported machine.
	_, err := NewPythons("").Find(context.Background(), "3.7", "pytest")
	var missing *MissingError
	require.ErrorAs(t, err, &missing)
	assert.False(t, missing.NoInterpreter, "the interpreter exists; it lacks modules")
	assert.True(t, missing.NotDebian)
	assert.Equal(t, "python3.7 (pyenv 3.7.18) lacks Python modules: pytest", missing.What, "the newest patch release")
	assert.Equal(t, "install them with: "+filepath.Join(root, "versions", "3.7.18", "bin", "python3.7")+" -m pip install pytest", missing.Fix)
	assert.NoFileExists(t, shimMarker, "a pyenv shim is never started for a named version")
}

func TestFindPythonWithoutPyenvBuildSkipsTheShim(t *testing.T) {
	_, shimMarker := fakePyenv(t)
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(shimMarker), "shims", "python3.4"), []byte("#!/bin/sh\ntouch "+shimMarker+"\n"), 0o755))
	_, err := NewPythons("").Find(context.Background(), "3.4", "pytest")
	assert.True(t, IsNoInterpreter(err))
	assert.NoFileExists(t, shimMarker)
}

func TestFindPythonReadsPyenvActiveVersionForPython3(t *testing.T) {
	tests := []struct {
		name        string
		versionFile string
		envVersion  string
		want        string
	}{
		{"the version file", "3.7.18\n", "", "3.7.18"},
		{"PYENV_VERSION wins", "3.7.2\n", "3.7.9", "3.7.9"},
		{"the first of several", "3.7.9:3.7.2\n", "", "3.7.9"},
		{"system means none", "system\n", "", ""},
		{"no version file", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _ := fakePyenv(t, "3.7.2", "3.7.9", "3.7.18")
			if tt.versionFile != "" {
				require.NoError(t, os.WriteFile(filepath.Join(root, "version"), []byte(tt.versionFile), 0o644))
			}
			t.Setenv("PYENV_VERSION", tt.envVersion)
			assert.Equal(t, tt.want, pyenvActive())
			shim := filepath.Join(root, "shims", "python3")
			require.NoError(t, os.WriteFile(shim, []byte("#!/bin/sh\nexit 1\n"), 0o755))
			cands := pythonCandidates("")
			assert.NotContains(t, cands, shim, "never the shim")
			if tt.want != "" {
				assert.Contains(t, cands, filepath.Join(root, "versions", tt.want, "bin", "python3"))
			}
		})
	}
}

func TestPatchLevelOrdersPyenvVersions(t *testing.T) {
	for v, want := range map[string]int{"3.9.18": 18, "3.9.2": 2, "3.9": 9, "3.9.0rc1": -1, "": -1} {
		assert.Equal(t, want, patchLevel(v), v)
	}
}
