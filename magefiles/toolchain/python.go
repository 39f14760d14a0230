package toolchain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
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
}

func (e *MissingError) Error() string {
	if e.Fix == "" {
		return e.What
	}
	return e.What + "; " + e.Fix
}

// pythonCandidates lists interpreters for a version ("" = any python3),
// Debian's system interpreter first: it is the one with the tools here,
// while the first python3 on PATH may be a bare pyenv build.
func pythonCandidates(version string) []string {
	name := "python3"
	if version != "" {
		name = "python" + version
	}
	cands := []string{"/usr/bin/" + name, "/usr/local/bin/" + name}
	if p, err := exec.LookPath(name); err == nil {
		cands = append(cands, p)
	}
	return cands
}

// FindPython returns the first interpreter of the version ("3.11"; ""
// for any python3) that can import every module. The error is a
// *MissingError naming the interpreter or the modules that are missing.
func FindPython(ctx context.Context, version string, modules ...string) (*Python, error) {
	var found []string
	var bestMissing []string
	for _, cand := range pythonCandidates(version) {
		if _, err := os.Stat(cand); err != nil {
			continue
		}
		got, err := Output(ctx, Cmd{Name: cand, Args: []string{"-c", "import sys; print('%d.%d' % sys.version_info[:2])"}})
		if err != nil {
			continue
		}
		found = append(found, cand)
		missing := missingModules(ctx, cand, modules)
		if len(missing) == 0 {
			return &Python{Path: cand, Version: strings.TrimSpace(got)}, nil
		}
		if bestMissing == nil || len(missing) < len(bestMissing) {
			bestMissing = missing
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
		return nil, &MissingError{What: name + " not found"}
	}
	return nil, &MissingError{
		What: fmt.Sprintf("%s lacks Python modules: %s", found[0], strings.Join(bestMissing, ", ")),
		Fix:  "install them with: " + InstallCommand(bestMissing),
	}
}

func missingModules(ctx context.Context, python string, modules []string) []string {
	if len(modules) == 0 {
		return nil
	}
	// One interpreter start for all modules: print the ones that fail.
	script := "import importlib.util, sys\nfor m in sys.argv[1:]:\n    if importlib.util.find_spec(m) is None: print(m)\n"
	out, err := Output(ctx, Cmd{Name: python, Args: append([]string{"-c", script}, modules...)})
	if err != nil {
		return modules
	}
	return strings.Fields(out)
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

// EnsurePython finds an interpreter with the modules, installing missing
// Debian packages first when running as root on a machine with apt-get.
// Otherwise it returns the *MissingError with the command to run.
func EnsurePython(ctx context.Context, log func(string), modules ...string) (*Python, error) {
	py, err := FindPython(ctx, "", modules...)
	var missing *MissingError
	if err == nil || !errors.As(err, &missing) {
		return py, err
	}
	aptMu.Lock()
	defer aptMu.Unlock()
	if py, err := FindPython(ctx, "", modules...); err == nil {
		return py, nil // another check installed them meanwhile
	}
	if os.Geteuid() != 0 {
		return nil, err
	}
	if _, lookErr := exec.LookPath("apt-get"); lookErr != nil {
		return nil, err
	}
	pkgs := packagesFor(modules)
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
	return FindPython(ctx, "", modules...)
}
