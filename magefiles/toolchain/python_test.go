package toolchain

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFindPythonMissingInterpreter(t *testing.T) {
	_, err := FindPython(context.Background(), "3.4")
	require.Error(t, err)
	assert.True(t, IsNoInterpreter(err))
	assert.Equal(t, "python3.4 not found", err.Error())

	// EnsurePythonVersion never tries to provision a missing interpreter.
	_, err = EnsurePythonVersion(context.Background(), "3.4", func(s string) { t.Fatalf("no install expected: %s", s) }, "pytest")
	assert.True(t, IsNoInterpreter(err))
}

func TestFindPythonMissingModuleNamesTheFix(t *testing.T) {
	_, err := FindPython(context.Background(), "", "pytest", "surely_not_installed_module")
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
	py, err := FindPython(context.Background(), "", "pytest")
	if err != nil {
		t.Skipf("no interpreter with pytest: %v", err)
	}
	v, err := DistVersions(context.Background(), py, "pytest", "xdist")
	require.NoError(t, err)
	lines := strings.Split(v, "\n")
	require.Len(t, lines, 3)
	assert.True(t, strings.HasPrefix(lines[0], py.Path+" 3."), lines[0])
	assert.Regexp(t, `^pytest \d`, lines[1])
	assert.True(t, strings.HasPrefix(lines[2], "pytest-xdist "), lines[2])
	again, err := DistVersions(context.Background(), py, "pytest", "xdist")
	require.NoError(t, err)
	assert.Equal(t, v, again)
}
