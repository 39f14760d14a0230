package toolchain

import (
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"go/version"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// GoTool is one Go program the checks run, pinned to a version.
type GoTool struct {
	Name    string // binary name
	Package string // main package to install
	Version string // module version
}

// Spec is the `go install` argument: package@version.
func (t GoTool) Spec() string { return t.Package + "@" + t.Version }

// ID names the tool and its version, for cache keys and directories.
func (t GoTool) ID() string { return t.Name + "@" + t.Version }

// GoTools is the one table of pinned Go tools. Everything that installs or
// runs a Go tool reads it; changing a version here invalidates the cached
// results of every check that runs the tool.
var GoTools = map[string]GoTool{
	// gosec: security scan of the Go code (SARIF). ~4 min first build.
	"gosec": {Name: "gosec", Package: "github.com/securego/gosec/v2/cmd/gosec", Version: "v2.30.0"},
	// staticcheck: the Go linter beyond go vet.
	"staticcheck": {Name: "staticcheck", Package: "honnef.co/go/tools/cmd/staticcheck", Version: "v0.8.2"},
	// govulncheck: known vulnerabilities reachable from the Go code.
	"govulncheck": {Name: "govulncheck", Package: "golang.org/x/vuln/cmd/govulncheck", Version: "v1.9.0"},
	// actionlint: GitHub Actions workflow linter.
	"actionlint": {Name: "actionlint", Package: "github.com/rhysd/actionlint/cmd/actionlint", Version: "v1.7.12"},
}

// GoData is the table of pinned Go modules the checks read as data rather
// than run. The Go vulnerability database is a module: downloading it
// through the module proxy is how the audit gets its data without any
// other network access.
var GoData = map[string]GoTool{
	"vulndb": {Name: "vulndb", Package: "golang.org/x/vulndb", Version: "v0.0.0-20261105234957-e22db6528018"},
}

// Tool returns the pinned tool by name; it panics on a name missing from
// the table, which is a programming error.
func Tool(name string) GoTool {
	t, ok := GoTools[name]
	if !ok {
		panic("toolchain: no pinned Go tool " + name)
	}
	return t
}

// ToolNames lists the pinned tools, sorted.
func ToolNames() []string {
	names := make([]string, 0, len(GoTools))
	for n := range GoTools {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ToolsDir is where pinned tools are installed: <root>/.cache/tools.
func ToolsDir(root string) string {
	return filepath.Join(root, ".cache", "tools")
}

// ToolPath is the binary of a pinned tool in the tools directory dir
// (see ToolsDir), installed or not.
func ToolPath(dir string, t GoTool) string {
	return filepath.Join(dir, t.ID(), t.Name)
}

// Installed reports whether the pinned tool is already built in dir.
func Installed(dir string, t GoTool) bool {
	return isExecutable(ToolPath(dir, t))
}

// installLocks serialise installs of one tool within the process, so two
// checks needing the same tool build it once.
var installLocks sync.Map // tool ID -> *sync.Mutex

// EnsureGoTool returns the path of the pinned tool, installing it first
// with `go install` into <dir>/<name>@<version>/ when it is missing (dir
// is the tools directory, normally ToolsDir(root)). The build goes to a
// temporary directory renamed into place, so an interrupted install never
// leaves a half-written binary behind.
//
// A binary built by an older Go than the go command's is rebuilt: a tool
// that type-checks the code (staticcheck, gosec, govulncheck) refuses
// files that need a newer Go than its own.
func EnsureGoTool(ctx context.Context, dir string, t GoTool, log func(string)) (string, error) {
	bin := ToolPath(dir, t)
	gv, err := GoVersion(ctx)
	if err != nil {
		return "", fmt.Errorf("install %s: %w", t.ID(), err)
	}
	if isExecutable(bin) && !builtWithOlderGo(bin, gv) {
		return bin, nil
	}
	mu, _ := installLocks.LoadOrStore(t.ID(), &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if isExecutable(bin) && !builtWithOlderGo(bin, gv) {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("install %s: %w", t.ID(), err)
	}
	tmp, err := os.MkdirTemp(dir, ".install-"+t.Name+"-")
	if err != nil {
		return "", fmt.Errorf("install %s: %w", t.ID(), err)
	}
	defer os.RemoveAll(tmp)
	if log != nil {
		log(fmt.Sprintf("installing %s (go install %s; the first build can take minutes)", t.ID(), t.Spec()))
	}
	// Outside the main module: the tool resolves its own dependencies
	// and never touches this repository's go.mod or go.sum.
	if _, err := Output(ctx, Cmd{Name: "go", Args: []string{"install", t.Spec()}, Dir: os.TempDir(),
		Env: []string{"GOBIN=" + tmp, "GOFLAGS="}}); err != nil {
		return "", fmt.Errorf("install %s: %w (run: GOBIN=%s go install %s)", t.ID(), err, filepath.Dir(bin), t.Spec())
	}
	final := filepath.Dir(bin)
	_ = os.RemoveAll(final)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("install %s: %w", t.ID(), err)
	}
	if !isExecutable(bin) {
		return "", fmt.Errorf("install %s: %s missing after go install", t.ID(), bin)
	}
	return bin, nil
}

// builtWithOlderGo reports whether the Go program bin was built by a Go
// older than goVersion; a file that is not a Go program is not.
func builtWithOlderGo(bin, goVersion string) bool {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return false
	}
	return version.Compare(info.GoVersion, goVersion) < 0
}

var goVersionMemo struct {
	sync.Mutex
	v string
}

// GoVersion is the go command's version (go1.27.3), asked once per
// process: with GOTOOLCHAIN set it names the toolchain that command
// switches to, not the one on PATH. GOTOOLCHAIN naming one exact release
// is the answer itself (the go command runs that release or nothing),
// which spares every run two process starts.
func GoVersion(ctx context.Context) (string, error) {
	goVersionMemo.Lock()
	defer goVersionMemo.Unlock()
	if goVersionMemo.v != "" {
		return goVersionMemo.v, nil
	}
	if tc := os.Getenv("GOTOOLCHAIN"); exactToolchain(tc) {
		goVersionMemo.v = tc
		return tc, nil
	}
	v, err := Output(ctx, Cmd{Name: "go", Args: []string{"env", "GOVERSION"}})
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	goVersionMemo.v = strings.TrimSpace(v)
	return goVersionMemo.v, nil
}

// exactToolchain reports whether a GOTOOLCHAIN value names one release
// ("go1.27.3"), not a minimum ("go1.27.3+auto"), "local", "auto" or "path".
func exactToolchain(tc string) bool {
	return strings.HasPrefix(tc, "go1.") && !strings.Contains(tc, "+") && version.IsValid(tc)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// DownloadModule fetches a pinned module through the module proxy (or the
// local module cache) and returns its directory. env adds variables such
// as GOPROXY=off for an offline run.
func DownloadModule(ctx context.Context, m GoTool, env []string) (string, error) {
	out, err := Output(ctx, Cmd{Name: "go", Args: []string{"mod", "download", "-json", m.Spec()}, Dir: os.TempDir(),
		Env: append([]string{"GOFLAGS=", "GO111MODULE=on"}, env...)})
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal([]byte(out), &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("download %s: %s", m.Spec(), info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("download %s: %w", m.Spec(), err)
	}
	if info.Dir == "" {
		return "", fmt.Errorf("download %s: no directory in go mod download output", m.Spec())
	}
	return info.Dir, nil
}
