package toolchain

import (
	"context"
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

// Find returns the first interpreter of the version ("3.11"; "" for any
// python3) that can import every module. The error is a *MissingError
// naming the interpreter or the modules that are missing. Interpreters
// are probed once (see probe), so asking for every check's tools costs
// one interpreter start, not one per check, and none while the disk
// cache holds the answer.
func (ps *Pythons) Find(ctx context.Context, version string, modules ...string) (*Python, error) {
	var found []string
	var bestMissing []string
	var best string // the interpreter missing the fewest modules
	for _, cand := range pythonCandidates(version) {
		if _, err := os.Stat(cand); err != nil {
			continue
		}
		info, err := ps.probe(ctx, cand)
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

// Ensure finds an interpreter with the modules, installing missing
// Debian packages first when running as root on a machine with apt-get.
// Otherwise it returns the *MissingError with the command to run.
func (ps *Pythons) Ensure(ctx context.Context, log func(string), modules ...string) (*Python, error) {
	return ps.EnsureVersion(ctx, "", log, modules...)
}

// EnsureVersion is Ensure for one version ("3.11"; "" for any python3).
// A version that is not installed at all is reported as such
// (IsNoInterpreter), never provisioned: Debian ships one Python 3.
func (ps *Pythons) EnsureVersion(ctx context.Context, version string, log func(string), modules ...string) (*Python, error) {
	py, err := ps.Find(ctx, version, modules...)
	var missing *MissingError
	if err == nil || !errors.As(err, &missing) || missing.NoInterpreter {
		return py, err
	}
	aptMu.Lock()
	defer aptMu.Unlock()
	ps.forget()
	if py, err := ps.Find(ctx, version, modules...); err == nil {
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
	if info, perr := ps.probe(ctx, system); perr == nil {
		for _, m := range knownModules() {
			if !info.Modules[m] {
				want = append(want, m)
			}
		}
	}
	ps.forget()
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
			return nil, fmt.Errorf("apt-get install %s: %w (%s)", strings.Join(pkgs, " "), aerr, Tail(out, 5))
		}
	}
	ps.forget()
	return ps.Find(ctx, version, modules...)
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
