package toolchain

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestToolTable(t *testing.T) {
	for _, name := range ToolNames() {
		tool := Tool(name)
		assert.Equal(t, name, tool.Name)
		assert.True(t, strings.HasPrefix(tool.Version, "v"), "%s: pinned versions, never latest", name)
		assert.Equal(t, tool.Package+"@"+tool.Version, tool.Spec())
		assert.Equal(t, filepath.Join("/r", ".cache", "tools", name+"@"+tool.Version, name), ToolPath(ToolsDir("/r"), tool))
	}
	assert.Panics(t, func() { Tool("no-such-tool") })
}

func TestEnsureGoToolUsesAnInstalledBinary(t *testing.T) {
	dir := t.TempDir()
	tool := GoTool{Name: "fake", Package: "example.invalid/fake", Version: "v1.0.0"}
	bin := ToolPath(dir, tool)
	require.NoError(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))
	assert.True(t, Installed(dir, tool))
	got, err := EnsureGoTool(context.Background(), dir, tool, func(string) { t.Fatal("must not install") })
	require.NoError(t, err)
	assert.Equal(t, bin, got)
}

func TestBuiltWithOlderGo(t *testing.T) {
	self, err := os.Executable() // this test binary, built by runtime.Version()
	require.NoError(t, err)
	script := filepath.Join(t.TempDir(), "stand-in")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755))
	tests := []struct {
		name string
		bin  string
		goV  string
		want bool
	}{
		{"built by the running Go", self, runtime.Version(), false},
		{"built by an older Go than the go command", self, "go1.999.0", true},
		{"built by a newer Go than the go command", self, "go1.20", false},
		{"not a Go program", script, "go1.999.0", false},
		{"missing", filepath.Join(t.TempDir(), "none"), "go1.999.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, builtWithOlderGo(tt.bin, tt.goV))
		})
	}
}

func TestExactToolchain(t *testing.T) {
	for tc, want := range map[string]bool{
		"go1.27.3": true, "go1.27rc1": true, "go1.27.3+auto": false, "go1.27.3+path": false,
		"local": false, "auto": false, "path": false, "": false, "go1.x": false,
	} {
		assert.Equal(t, want, exactToolchain(tc), tc)
	}
}

func TestGoVersionIsTheGoCommands(t *testing.T) {
	v, err := GoVersion(context.Background())
	require.NoError(t, err)
	assert.Equal(t, runtime.Version(), v, "go test runs the test binary with the go command's toolchain")
}

func TestEnsureGoToolInstallsOnceFromTheModuleCache(t *testing.T) {
	// mage is a dependency of this module, so it is in the module cache,
	// which serves as a proxy: the install needs no network.
	modcache, err := Output(context.Background(), Cmd{Name: "go", Args: []string{"env", "GOMODCACHE"}})
	require.NoError(t, err)
	t.Setenv("GOPROXY", "file://"+filepath.Join(strings.TrimSpace(modcache), "cache", "download"))
	t.Setenv("GOSUMDB", "off")
	dir := t.TempDir()
	tool := GoTool{Name: "mage", Package: "github.com/magefile/mage", Version: "v1.17.2"}
	var mu sync.Mutex
	var logs []string
	var wg sync.WaitGroup
	paths := make([]string, 2)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := EnsureGoTool(context.Background(), dir, tool, func(s string) { mu.Lock(); logs = append(logs, s); mu.Unlock() })
			assert.NoError(t, err)
			paths[i] = p
		}()
	}
	wg.Wait()
	assert.Equal(t, paths[0], paths[1])
	assert.Len(t, logs, 1, "two callers, one install")
	assert.True(t, Installed(dir, tool))
	out, err := Output(context.Background(), Cmd{Name: paths[0], Args: []string{"-version"}})
	require.NoError(t, err)
	assert.Contains(t, out, "v1.17.2")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary install directory is left behind")
}

func TestEnsureGoToolFailureSaysWhatToRun(t *testing.T) {
	t.Setenv("GOPROXY", "off")
	dir := t.TempDir()
	tool := GoTool{Name: "nope", Package: "example.invalid/nope/cmd/nope", Version: "v9.9.9"}
	_, err := EnsureGoTool(context.Background(), dir, tool, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "install nope@v9.9.9")
	assert.Contains(t, err.Error(), "go install example.invalid/nope/cmd/nope@v9.9.9")
	assert.False(t, Installed(dir, tool))
}

func TestDownloadModuleOffline(t *testing.T) {
	_, err := DownloadModule(context.Background(), GoTool{Name: "x", Package: "example.invalid/x", Version: "v1.0.0"},
		[]string{"GOPROXY=off", "GOMODCACHE=" + t.TempDir(), "GOFLAGS=-modcacherw"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "download example.invalid/x@v1.0.0")
}
