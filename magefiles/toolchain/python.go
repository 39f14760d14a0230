package toolchain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// debianPackages maps the Python modules the checks import to the Debian
// packages that provide them. pip cannot install here (no package index,
// and PEP 668 protects the system interpreter), so Debian is the source.
var debianPackages = map[string]string{
	"pytest":         "python3-pytest",
	"pytest_cov":     "python3-pytest-cov",
	"xdist":          "python3-pytest-xdist",
	"pytest_timeout": "python3-pytest-timeout",
	"black":          "black",
	"isort":          "isort",
	"flake8":         "flake8",
	"pylint":         "pylint",
	"mypy":           "mypy",
	"bandit":         "bandit",
}

// Python is an interpreter that was found to run.
type Python struct {
	Path    string // absolute path of the interpreter
	Version string // major.minor, e.g. "3.11"
}

// MissingError says exactly what is missing and how to get it.
type MissingError struct {
	What string
	Fix  string
	// NoInterpreter is set when no interpreter of the version exists at
	// all (as opposed to one that lacks modules).
	NoInterpreter bool
	// NotDebian is set when the interpreter lacking modules is not
	// Debian's (a pyenv build, say): Debian's packages cannot give it
	// any, only its own pip can.
	NotDebian bool
}

func (e *MissingError) Error() string {
	if e.Fix == "" {
		return e.What
	}
	return e.What + "; " + e.Fix
}

// pythonCandidates lists interpreters for a version ("" = any python3),
// Debian's system interpreter first: it is the one with the tools here,
// while the first python3 on PATH may be a bare pyenv build. For a named
// version, pyenv's builds are read from its versions folder. pyenv's
// shims are never started: the shim of a version that is installed but
// not active fails, and slowly (seconds; even an active one takes more
// than a second). A python3 shim stands for pyenv's active version, read
// from PYENV_VERSION or pyenv's version file.
func pythonCandidates(version string) []string {
	name := "python3"
	if version != "" {
		name = "python" + version
	}
	cands := []string{"/usr/bin/" + name, "/usr/local/bin/" + name}
	if version != "" {
		cands = append(cands, pyenvInterpreters(version)...)
	}
	p, err := exec.LookPath(name)
	switch {
	case err != nil:
	case !isPyenvShim(p):
		cands = append(cands, p)
	case version == "":
		if active := pyenvActive(); active != "" {
			cands = append(cands, filepath.Join(pyenvRoot(), "versions", active, "bin", name))
		}
	}
	return cands
}

// pyenvActive is pyenv's active version: PYENV_VERSION, else the first
// line of <root>/version ("" when neither names one, or it is "system").
func pyenvActive() string {
	v := os.Getenv("PYENV_VERSION")
	if v == "" {
		b, err := os.ReadFile(filepath.Join(pyenvRoot(), "version"))
		if err != nil {
			return ""
		}
		v, _, _ = strings.Cut(string(b), "\n")
	}
	v = strings.Fields(strings.ReplaceAll(v, ":", " ") + " system")[0]
	if v == "system" {
		return ""
	}
	return v
}

// pyenvRoot is PYENV_ROOT, else ~/.pyenv.
func pyenvRoot() string {
	if r := os.Getenv("PYENV_ROOT"); r != "" {
		return r
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".pyenv")
}

func isPyenvShim(p string) bool {
	root := pyenvRoot()
	return root != "" && filepath.Dir(p) == filepath.Join(root, "shims")
}

// pyenvInterpreters lists pyenv's builds of a version
// (<root>/versions/3.9.18/bin/python3.9), newest patch release first.
func pyenvInterpreters(version string) []string {
	root := pyenvRoot()
	if root == "" {
		return nil
	}
	matches, _ := filepath.Glob(filepath.Join(root, "versions", version+".*", "bin", "python"+version))
	sort.Slice(matches, func(i, j int) bool {
		return patchLevel(pyenvVersion(matches[i])) > patchLevel(pyenvVersion(matches[j]))
	})
	return matches
}

// pyenvVersion is the pyenv version a path belongs to ("3.9.18"), or ""
// for an interpreter outside pyenv's versions folder.
func pyenvVersion(p string) string {
	root := pyenvRoot()
	if root == "" {
		return ""
	}
	rel, err := filepath.Rel(filepath.Join(root, "versions"), p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return ""
	}
	return strings.Split(filepath.ToSlash(rel), "/")[0]
}

// patchLevel is the number after the last dot of a version ("3.9.18": 18),
// -1 when there is none.
func patchLevel(v string) int {
	n, err := strconv.Atoi(v[strings.LastIndex(v, ".")+1:])
	if err != nil {
		return -1
	}
	return n
}

// describePython names an interpreter for messages: "python3.9 (pyenv
// 3.9.18)" for a pyenv build, else its path.
func describePython(p string) string {
	if v := pyenvVersion(p); v != "" {
		return fmt.Sprintf("%s (pyenv %s)", filepath.Base(p), v)
	}
	return p
}

// FindPython returns the first interpreter of the version ("3.11"; ""
// for any python3) that can import every module. The error is a
// *MissingError naming the interpreter or the modules that are missing.
// Interpreters are probed once per process (see probe), so asking for
// every check's tools costs one interpreter start, not one per check.
func FindPython(ctx context.Context, version string, modules ...string) (*Python, error) {
	var found []string
	var bestMissing []string
	var best string // the interpreter missing the fewest modules
	for _, cand := range pythonCandidates(version) {
		if _, err := os.Stat(cand); err != nil {
			continue
		}
		info, err := probe(ctx, cand)
		if err != nil || (version != "" && info.Version != version) {
			continue
		}
		found = append(found, cand)
		var missing []string
		for _, m := range modules {
			if !info.Modules[m] {
				missing = append(missing, m)
			}
		}
		if len(missing) == 0 {
			return &Python{Path: cand, Version: info.Version}, nil
		}
		if bestMissing == nil || len(missing) < len(bestMissing) {
			best, bestMissing = cand, missing
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if len(found) == 0 {
		name := "python3"
		if version != "" {
			name = "python" + version
		}
		return nil, &MissingError{What: name + " not found", NoInterpreter: true}
	}
	fix := "install them with: " + InstallCommand(bestMissing)
	notDebian := !strings.HasPrefix(best, "/usr/bin/")
	if notDebian {
		fix = "install them with: " + best + " -m pip install " + strings.Join(pipNames(bestMissing), " ")
	}
	return nil, &MissingError{
		What:      fmt.Sprintf("%s lacks Python modules: %s", describePython(best), strings.Join(bestMissing, ", ")),
		Fix:       fix,
		NotDebian: notDebian,
	}
}

// pythonInfo is what one start of an interpreter tells about it.
type pythonInfo struct {
	Version string            `json:"version"` // major.minor
	Full    string            `json:"full"`    // e.g. 3.11.2
	Modules map[string]bool   `json:"modules"` // importable, by import name
	Dists   map[string]string `json:"dists"`   // installed versions, by distribution name
}

// probeScript reports the interpreter's version, which of the modules in
// argv[1] can be imported and the versions of the distributions in argv[2].
const probeScript = `import importlib.util, importlib.metadata as md, json, sys
mods, dists = sys.argv[1].split(","), sys.argv[2].split(",")
def version(d):
    try:
        return md.version(d)
    except Exception:
        return "?"
print(json.dumps({
    "version": "%d.%d" % sys.version_info[:2],
    "full": sys.version.split()[0],
    "modules": {m: importlib.util.find_spec(m) is not None for m in mods},
    "dists": {d: version(d) for d in dists},
}))
`

// knownDists are the distributions whose versions make up the checks'
// cache keys.
var knownDists = []string{"pytest", "pytest-cov", "pytest-xdist", "pytest-timeout", "coverage",
	"black", "isort", "flake8", "pylint", "astroid", "mypy", "bandit", "pyflakes", "pycodestyle"}

type probeEntry struct {
	once sync.Once
	info *pythonInfo
	err  error
}

// probes memoizes probe results per interpreter path for the process.
var probes sync.Map // path -> *probeEntry

func knownModules() []string {
	mods := make([]string, 0, len(debianPackages))
	for m := range debianPackages {
		mods = append(mods, m)
	}
	sort.Strings(mods)
	return mods
}

// probe starts the interpreter once per process and remembers what it has,
// or that it does not start (a pyenv shim for a version that is not
// active fails slowly, and every run asks once per matrix entry).
func probe(ctx context.Context, python string) (*pythonInfo, error) {
	// /usr/bin/python3 and /usr/bin/python3.11 are one interpreter.
	key := python
	if real, err := filepath.EvalSymlinks(python); err == nil {
		key = real
	}
	v, _ := probes.LoadOrStore(key, &probeEntry{})
	e := v.(*probeEntry)
	e.once.Do(func() {
		out, err := Output(ctx, Cmd{Name: python, Args: []string{"-c", probeScript,
			strings.Join(knownModules(), ","), strings.Join(knownDists, ",")}})
		if err != nil {
			e.err = err
			return
		}
		var info pythonInfo
		if err := json.Unmarshal([]byte(out), &info); err != nil {
			e.err = fmt.Errorf("probe %s: %w", python, err)
			return
		}
		e.info = &info
	})
	if e.err != nil && ctx.Err() != nil {
		probes.CompareAndDelete(key, e) // a cancelled probe may be retried
	}
	return e.info, e.err
}

// PrefetchPython starts, in the background, the probes of every
// interpreter candidate for the versions ("" = python3): a run asks about
// several, and each start costs tens of milliseconds (a pyenv shim for an
// inactive version, hundreds). Later lookups wait for these probes
// instead of starting their own.
func PrefetchPython(ctx context.Context, versions ...string) {
	seen := map[string]bool{}
	for _, v := range append([]string{""}, versions...) {
		for _, cand := range pythonCandidates(v) {
			if seen[cand] {
				continue
			}
			seen[cand] = true
			if _, err := os.Stat(cand); err != nil {
				continue
			}
			go func(p string) { _, _ = probe(ctx, p) }(cand)
		}
	}
}

// forgetProbes drops every memoized probe, after an install changed what
// the interpreters have.
func forgetProbes() {
	probes.Range(func(k, _ any) bool { probes.Delete(k); return true })
}

// DistVersions returns the interpreter's version and the installed
// versions of the modules' distributions, one "name version" per line: the
// cache-key part for a set of Python tools.
func DistVersions(ctx context.Context, py *Python, modules ...string) (string, error) {
	info, err := probe(ctx, py.Path)
	if err != nil {
		return "", err
	}
	lines := []string{py.Path + " " + info.Full}
	for _, d := range pipNames(modules) {
		ver, ok := info.Dists[d]
		if !ok {
			ver = "?"
		}
		lines = append(lines, d+" "+ver)
	}
	return strings.Join(lines, "\n"), nil
}

// InstallCommand is the exact command that provides the modules on Debian.
func InstallCommand(modules []string) string {
	return "sudo apt-get install -y " + strings.Join(packagesFor(modules), " ")
}

func packagesFor(modules []string) []string {
	seen := map[string]bool{}
	var pkgs []string
	for _, m := range modules {
		p, ok := debianPackages[m]
		if !ok {
			p = "python3-" + strings.ReplaceAll(m, "_", "-")
		}
		if !seen[p] {
			seen[p] = true
			pkgs = append(pkgs, p)
		}
	}
	sort.Strings(pkgs)
	return pkgs
}

// aptMu serialises provisioning: two checks asking at once must not race
// for the dpkg lock.
var aptMu sync.Mutex

// IsNoInterpreter reports whether err says the interpreter itself is not
// installed (a matrix entry to skip), not merely missing modules.
func IsNoInterpreter(err error) bool {
	var m *MissingError
	return errors.As(err, &m) && m.NoInterpreter
}

// EnsurePython finds an interpreter with the modules, installing missing
// Debian packages first when running as root on a machine with apt-get.
// Otherwise it returns the *MissingError with the command to run.
func EnsurePython(ctx context.Context, log func(string), modules ...string) (*Python, error) {
	return EnsurePythonVersion(ctx, "", log, modules...)
}

// EnsurePythonVersion is EnsurePython for one version ("3.11"; "" for any
// python3). A version that is not installed at all is reported as such
// (IsNoInterpreter), never provisioned: Debian ships one Python 3.
func EnsurePythonVersion(ctx context.Context, version string, log func(string), modules ...string) (*Python, error) {
	py, err := FindPython(ctx, version, modules...)
	var missing *MissingError
	if err == nil || !errors.As(err, &missing) || missing.NoInterpreter {
		return py, err
	}
	aptMu.Lock()
	defer aptMu.Unlock()
	forgetProbes()
	if py, err := FindPython(ctx, version, modules...); err == nil {
		return py, nil // another check installed them meanwhile
	}
	if os.Geteuid() != 0 {
		return nil, err
	}
	if _, lookErr := exec.LookPath("apt-get"); lookErr != nil {
		return nil, err
	}
	system := "/usr/bin/python3"
	if version != "" {
		system = "/usr/bin/python" + version
	}
	if _, serr := os.Stat(system); serr != nil {
		return nil, err // Debian's packages serve Debian's interpreter only
	}
	// One apt run for every tool the checks use: the next check that
	// needs another one finds it installed instead of waiting for apt.
	want := append([]string(nil), modules...)
	if info, perr := probe(ctx, system); perr == nil {
		for _, m := range knownModules() {
			if !info.Modules[m] {
				want = append(want, m)
			}
		}
	}
	forgetProbes()
	pkgs := packagesFor(want)
	if log != nil {
		log("installing Debian packages: " + strings.Join(pkgs, " "))
	}
	if out, aerr := Output(ctx, Cmd{Name: "apt-get", Args: append([]string{"install", "-y", "-q"}, pkgs...),
		Env: []string{"DEBIAN_FRONTEND=noninteractive"}}); aerr != nil {
		// The package lists may be missing on a fresh machine.
		if _, uerr := Output(ctx, Cmd{Name: "apt-get", Args: []string{"update", "-q"}}); uerr != nil {
			return nil, fmt.Errorf("apt-get update: %w", uerr)
		}
		if _, aerr = Output(ctx, Cmd{Name: "apt-get", Args: append([]string{"install", "-y", "-q"}, pkgs...),
			Env: []string{"DEBIAN_FRONTEND=noninteractive"}}); aerr != nil {
			return nil, fmt.Errorf("apt-get install %s: %w (%s)", strings.Join(pkgs, " "), aerr, lastLines(out, 5))
		}
	}
	forgetProbes()
	return FindPython(ctx, version, modules...)
}

// pipDistNames maps import names to distribution names where they differ.
var pipDistNames = map[string]string{
	"pytest_cov": "pytest-cov", "xdist": "pytest-xdist", "pytest_timeout": "pytest-timeout",
}

func pipNames(modules []string) []string {
	out := make([]string, len(modules))
	for i, m := range modules {
		if n, ok := pipDistNames[m]; ok {
			out[i] = n
		} else {
			out[i] = m
		}
	}
	return out
}
