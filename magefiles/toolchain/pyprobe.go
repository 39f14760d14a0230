package toolchain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain/probecache"
)

// Pythons finds interpreters and remembers what each one has: once per
// process in memory and, given a cache directory, across runs on disk, so
// a run whose interpreters did not change starts none of them to ask.
// The zero value keeps answers in memory only.
type Pythons struct {
	cache  *probecache.Cache // nil: memory only
	probes sync.Map          // interpreterID -> *probeEntry
}

// NewPythons returns a finder whose probe results persist in cacheDir
// (PythonCacheDir of the project); "" keeps them for the process only.
func NewPythons(cacheDir string) *Pythons {
	ps := &Pythons{}
	if cacheDir != "" {
		ps.cache = &probecache.Cache{Dir: cacheDir}
	}
	return ps
}

// PythonCacheDir is where a project keeps what its interpreters have.
func PythonCacheDir(root string) string {
	return filepath.Join(root, ".cache", "python")
}

// pythonInfo is what one start of an interpreter tells about it.
type pythonInfo struct {
	Version string            `json:"version"` // major.minor
	Full    string            `json:"full"`    // e.g. 3.11.2
	Modules map[string]bool   `json:"modules"` // importable, by import name
	Dists   map[string]string `json:"dists"`   // installed versions, by distribution name
	// Paths are the folders imports search (sys.path, the site-packages
	// folders, the user's, existing or not): installing or removing a
	// distribution changes one of them, so they key the disk cache.
	Paths []string `json:"paths"`
}

// probeScript reports the interpreter's version, which of the modules in
// argv[1] can be imported, the versions of the distributions in argv[2]
// and the folders imports search.
const probeScript = `import importlib.util, importlib.metadata as md, json, os, site, sys
mods, dists = sys.argv[1].split(","), sys.argv[2].split(",")
def version(d):
    try:
        return md.version(d)
    except Exception:
        return "?"
paths = [p for p in sys.path if p] + list(getattr(site, "getsitepackages", list)()) + [site.getusersitepackages()]
print(json.dumps({
    "version": "%d.%d" % sys.version_info[:2],
    "full": sys.version.split()[0],
    "modules": {m: importlib.util.find_spec(m) is not None for m in mods},
    "dists": {d: version(d) for d in dists},
    "paths": sorted({os.path.abspath(p) for p in paths}),
}))
`

// knownDists are the distributions whose versions make up the checks'
// cache keys.
var knownDists = []string{"pytest", "pytest-cov", "pytest-xdist", "pytest-timeout", "coverage",
	"black", "isort", "flake8", "pylint", "astroid", "mypy", "bandit", "pyflakes", "pycodestyle"}

// pythonEnv are the variables that change where an interpreter looks for
// modules; they are part of the disk cache's key.
var pythonEnv = []string{"HOME", "PYTHONHOME", "PYTHONPATH", "PYTHONNOUSERSITE", "PYTHONPLATLIBDIR", "PYTHONSAFEPATH", "PYTHONUSERBASE"}

func knownModules() []string {
	mods := make([]string, 0, len(debianPackages))
	for m := range debianPackages {
		mods = append(mods, m)
	}
	sort.Strings(mods)
	return mods
}

func probeArgs() []string {
	return []string{"-c", probeScript, strings.Join(knownModules(), ","), strings.Join(knownDists, ",")}
}

type probeEntry struct {
	once sync.Once
	info *pythonInfo
	err  error
}

// interpreterID is what makes two paths one interpreter: the file they
// resolve to and the folder they are started from. /usr/bin/python3 and
// /usr/bin/python3.11 are one; a virtual environment's bin/python links to
// the same file but reads its own pyvenv.cfg and site-packages.
func interpreterID(python string) (file, dir string) {
	file, dir = python, filepath.Dir(python)
	if real, err := filepath.EvalSymlinks(python); err == nil {
		file = real
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return file, dir
}

// probe starts the interpreter once per process and remembers what it has,
// or that it does not start (a pyenv shim for a version that is not
// active fails slowly, and every run asks once per matrix entry). With a
// disk cache, an answer from an earlier run is used while nothing it
// depends on has changed.
func (ps *Pythons) probe(ctx context.Context, python string) (*pythonInfo, error) {
	file, dir := interpreterID(python)
	key := file + "\x00" + dir
	v, _ := ps.probes.LoadOrStore(key, &probeEntry{})
	e := v.(*probeEntry)
	e.once.Do(func() { e.info, e.err = ps.probeCached(ctx, python, file, dir) })
	if e.err != nil && ctx.Err() != nil {
		ps.probes.CompareAndDelete(key, e) // a cancelled probe may be retried
	}
	return e.info, e.err
}

func (ps *Pythons) probeCached(ctx context.Context, python, file, dir string) (*pythonInfo, error) {
	if ps.cache == nil {
		info, _, err := runProbe(ctx, python)
		return info, err
	}
	key := probeCacheKey(file, dir)
	if b, ok := ps.cache.Load(key); ok {
		if info, err := parseProbe(python, b); err == nil {
			return info, nil
		}
		// An entry that does not parse is a miss; the probe rewrites it.
	}
	started := time.Now()
	info, out, err := runProbe(ctx, python)
	if err != nil {
		return nil, err
	}
	// The answer depends on the interpreter, the pyvenv.cfg that would
	// make it a virtual environment, and the folders it imports from.
	files := append([]string{file, filepath.Join(dir, "pyvenv.cfg"), filepath.Join(filepath.Dir(dir), "pyvenv.cfg")}, info.Paths...)
	// A cache that cannot be written costs the next run a probe, no more.
	_ = ps.cache.Store(key, started, files, out)
	return info, nil
}

// probeCacheKey is everything besides file stamps that decides a probe's
// answer: the interpreter, where it starts from and in which folder, the
// variables that move its search path, and the question itself.
func probeCacheKey(file, dir string) string {
	wd, err := os.Getwd()
	if err != nil {
		wd = "?"
	}
	question := sha256.Sum256([]byte(strings.Join(probeArgs(), "\x00")))
	lines := []string{"interpreter=" + file, "dir=" + dir, "wd=" + wd, "probe=" + hex.EncodeToString(question[:])}
	for _, k := range pythonEnv {
		lines = append(lines, k+"="+os.Getenv(k))
	}
	return strings.Join(lines, "\n")
}

// runProbe starts the interpreter with probeScript and returns what it
// said, parsed and raw.
func runProbe(ctx context.Context, python string) (*pythonInfo, []byte, error) {
	out, err := Output(ctx, Cmd{Name: python, Args: probeArgs()})
	if err != nil {
		return nil, nil, err
	}
	info, err := parseProbe(python, []byte(out))
	if err != nil {
		return nil, nil, err
	}
	return info, []byte(out), nil
}

func parseProbe(python string, b []byte) (*pythonInfo, error) {
	var info pythonInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("probe %s: %w", python, err)
	}
	if info.Version == "" {
		return nil, fmt.Errorf("probe %s: no version in %q", python, Tail(string(b), 3))
	}
	return &info, nil
}

// Prefetch starts, in the background, the probes of every interpreter
// candidate for the versions ("" = python3): a run asks about several,
// and each start costs tens of milliseconds (a pyenv shim for an inactive
// version, hundreds). Later lookups wait for these probes instead of
// starting their own. wait returns once every probe has ended: call it
// before the process exits, so each answer reaches the disk cache and no
// probe writes there after its caller is gone.
func (ps *Pythons) Prefetch(ctx context.Context, versions ...string) (wait func()) {
	var wg sync.WaitGroup
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
			wg.Go(func() { _, _ = ps.probe(ctx, cand) })
		}
	}
	return wg.Wait
}

// forget drops every memoized probe, after an install changed what the
// interpreters have. The disk cache needs no such call: the install
// changed the folders its entries are stamped with.
func (ps *Pythons) forget() {
	ps.probes.Range(func(k, _ any) bool { ps.probes.Delete(k); return true })
}

// DistVersions returns the interpreter's version and the installed
// versions of the modules' distributions, one "name version" per line: the
// cache-key part for a set of Python tools.
func (ps *Pythons) DistVersions(ctx context.Context, py *Python, modules ...string) (string, error) {
	info, err := ps.probe(ctx, py.Path)
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
