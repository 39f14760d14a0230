// Package magebin is what `go run mage.go` runs: it compiles the magefiles
// into one binary per content and runs that binary with the targets.
//
// Mage on its own regenerates magefiles/mage_output_file.go and relinks
// the binary on every run, then deletes the file. Two runs in one checkout
// at once (a deploy while `emulator:serve` starts, two deploys racing for
// the lock, test packages compiling the targets in parallel) then delete
// each other's file and fail with "error compiling magefiles". Here the
// binary is keyed by a hash of everything that goes into it, built at most
// once under a file lock shared by every run in the checkout, and reused
// until a magefile, go.mod, go.sum or the Go toolchain changes. Mage's
// generated main file goes into a private copy of the targets under
// .cache/, never into magefiles/ itself, so go commands listing the
// packages meanwhile (go vet, go test, linters) never see a file vanish.
package magebin

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/magefile/mage/mage"
	"github.com/magefile/mage/mg"
)

// CacheEnv overrides where compiled binaries are kept (default
// <root>/.cache/mage).
const CacheEnv = "MAGEBIN_CACHE"

// keep is how many compiled binaries stay in the cache: the current one and
// a couple of recent ones, so switching branches back and forth is warm.
const keep = 3

// hashedEnv are the variables that change what `go build` produces.
var hashedEnv = []string{"GOTOOLCHAIN", "GOFLAGS", "CGO_ENABLED", "GOOS", "GOARCH", "GOAMD64", "GOEXPERIMENT", "MAGEFILE_GOCMD"}

// Runner compiles and runs the magefiles of one repository.
type Runner struct {
	Root     string // repository root: holds go.mod and magefiles/
	CacheDir string // compiled binaries; default <Root>/.cache/mage
	Stdout   io.Writer
	Stderr   io.Writer
	Stdin    io.Reader
}

// Main runs mage with args from the working directory, the way `go run
// mage.go` does, and returns the exit code.
func Main(args []string) int {
	r := Runner{Root: ".", CacheDir: os.Getenv(CacheEnv), Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin}
	return r.Run(args)
}

// mode is what a command line asks of the bootstrap.
type mode int

const (
	runTargets  mode = iota // compile if needed, then run the binary
	compileTo               // -compile PATH: compile if needed, copy the binary there
	passThrough             // mage's own commands that never compile (-version, -clean, ...)
	exclusive               // options that change how mage compiles (-debug, -keep, -d, ...): mage itself, holding the lock
)

// classify decides how to serve a parsed command line.
func classify(inv mage.Invocation, cmd mage.Command) mode {
	switch cmd {
	case mage.Version, mage.Clean, mage.Install:
		return passThrough
	case mage.Init:
		return exclusive
	case mage.CompileStatic:
		if inv.GOOS != "" || inv.GOARCH != "" || inv.Ldflags != "" || inv.Dir != "" || inv.Debug || inv.Keep || inv.Multiline {
			return exclusive
		}
		return compileTo
	}
	if inv.Autocomplete {
		return passThrough
	}
	if inv.Debug || inv.Keep || inv.Multiline || inv.Dir != "" || inv.WorkDir != "" || inv.GoCmd != mg.GoCmd() {
		return exclusive
	}
	return runTargets
}

// Run serves one mage command line.
func (r Runner) Run(args []string) int {
	inv, cmd, err := mage.Parse(r.Stderr, r.Stdout, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(r.Stderr, "Error:", err)
		return 2
	}
	if _, err := os.Stat(filepath.Join(r.Root, mage.MagefilesDirName)); err != nil {
		// Not this repository's layout: plain mage says what is wrong.
		return mage.ParseAndRun(r.Stdout, r.Stderr, r.Stdin, args)
	}
	switch classify(inv, cmd) {
	case passThrough:
		return mage.ParseAndRun(r.Stdout, r.Stderr, r.Stdin, args)
	case exclusive:
		unlock, err := r.lock()
		if err != nil {
			fmt.Fprintln(r.Stderr, "Error:", err)
			return 1
		}
		defer unlock()
		return mage.ParseAndRun(r.Stdout, r.Stderr, r.Stdin, args)
	}
	bin, code := r.Ensure(inv.Force && cmd != mage.CompileStatic)
	if code != 0 {
		return code
	}
	if cmd == mage.CompileStatic {
		if err := copyExecutable(bin, inv.CompileOut); err != nil {
			fmt.Fprintln(r.Stderr, "Error:", err)
			return 1
		}
		return 0
	}
	return r.exec(bin, inv)
}

// env is what mage passes a compiled binary for the flags it parsed.
func env(inv mage.Invocation) []string {
	e := os.Environ()
	if inv.Verbose {
		e = append(e, "MAGEFILE_VERBOSE=1")
	}
	if inv.List {
		e = append(e, "MAGEFILE_LIST=1")
	}
	if inv.Help {
		e = append(e, "MAGEFILE_HELP=1")
	}
	if inv.Timeout > 0 {
		e = append(e, "MAGEFILE_TIMEOUT="+inv.Timeout.String())
	}
	return e
}

// Ensure returns the compiled binary for the magefiles as they are now,
// building it first (under the checkout's lock) when it is missing or
// force is set. A non-zero code means the build failed and the reason is
// on Stderr (mage's compiler output, or what else went wrong).
func (r Runner) Ensure(force bool) (string, int) {
	key, err := Key(r.Root)
	if err != nil {
		fmt.Fprintln(r.Stderr, "Error:", err)
		return "", 1
	}
	dir := filepath.Join(r.cacheDir(), key)
	bin := filepath.Join(dir, "mage")
	if !force && isExecutable(bin) {
		now := time.Now()
		_ = os.Chtimes(dir, now, now) // most recently used survives pruning
		return bin, 0
	}
	unlock, err := r.lock()
	if err != nil {
		fmt.Fprintln(r.Stderr, "Error:", err)
		return "", 1
	}
	defer unlock()
	if !force && isExecutable(bin) { // another run built it while we waited
		return bin, 0
	}
	if code, err := r.build(dir); err != nil {
		fmt.Fprintln(r.Stderr, "Error: compile magefiles:", err)
		return "", code
	}
	if err := prune(r.cacheDir(), keep); err != nil {
		fmt.Fprintln(r.Stderr, "warning: prune compiled magefiles:", err)
	}
	return bin, 0
}

// build compiles the magefiles into dir/mage. The binary is built in a
// temporary directory renamed into place, so no run ever sees half of it.
func (r Runner) build(dir string) (int, error) {
	root, err := filepath.Abs(r.Root)
	if err != nil {
		return 1, err
	}
	tmp, err := os.MkdirTemp(r.cacheDir(), ".build-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(tmp)
	// mage writes its generated main file next to the targets: it gets a
	// private copy of them, so the checkout's magefiles/ never holds a file
	// that comes and goes under other go commands listing it. The copy
	// stays inside the module (under .cache/, which ./... patterns skip),
	// so the targets' imports resolve to this checkout's packages.
	if err := os.MkdirAll(filepath.Join(root, ".cache"), 0o755); err != nil {
		return 1, err
	}
	shadow, err := os.MkdirTemp(filepath.Join(root, ".cache"), "mage-src-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(shadow)
	if err := copyTargets(filepath.Join(root, mage.MagefilesDirName), filepath.Join(shadow, mage.MagefilesDirName)); err != nil {
		return 1, err
	}
	code := mage.Invoke(mage.Invocation{
		Dir: shadow, CompileOut: filepath.Join(tmp, "mage"), Force: true,
		GoCmd: mg.GoCmd(), CacheDir: mg.CacheDir(),
		Stdout: r.Stdout, Stderr: r.Stderr, Stdin: r.Stdin,
	})
	if code != 0 {
		return code, fmt.Errorf("mage exited with %d (its output above says why)", code)
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return 1, err
	}
	return 0, nil
}

// cacheDir is absolute: mage compiles from inside magefiles/, so a
// relative output path would land there.
func (r Runner) cacheDir() string {
	dir := r.CacheDir
	if dir == "" {
		dir = filepath.Join(r.Root, ".cache", "mage")
	}
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// lock takes the checkout's compile lock, saying so when another run holds
// it, and returns its release.
func (r Runner) lock() (func(), error) {
	if err := os.MkdirAll(r.cacheDir(), 0o755); err != nil {
		return nil, fmt.Errorf("compile lock: %w", err)
	}
	return lockFile(filepath.Join(r.cacheDir(), "lock"), func() {
		fmt.Fprintln(r.Stderr, "mage: waiting for another run in this checkout to finish compiling the magefiles")
	})
}

// Key is the content hash of what the compiled magefiles are built from:
// every non-test file under magefiles/ (testdata excluded), go.mod, go.sum,
// the Go toolchain and the environment that changes a build.
func Key(root string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "go %s\n", runtime.Version())
	for _, k := range hashedEnv {
		fmt.Fprintf(h, "env %s=%s\n", k, os.Getenv(k))
	}
	files := []string{"go.mod", "go.sum"}
	mf := filepath.Join(root, mage.MagefilesDirName)
	err := filepath.WalkDir(mf, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == "testdata" || (strings.HasPrefix(name, ".") && p != mf) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, "_test.go") || name == "mage_output_file.go" || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash magefiles: %w", err)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f)) // #nosec G304 -- files of this repository listed by the walk above
		if err != nil && !(errors.Is(err, fs.ErrNotExist) && f == "go.sum") {
			return "", fmt.Errorf("hash magefiles: %w", err)
		}
		fmt.Fprintf(h, "file %s %d\n", filepath.ToSlash(f), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

// copyTargets copies the Go files of the magefiles directory itself (the
// targets; packages below it are imported from the module as they are).
// Both ends are opened as roots, so no name can lead outside them.
func copyTargets(from, to string) error {
	if err := os.MkdirAll(to, 0o755); err != nil {
		return fmt.Errorf("copy targets: %w", err)
	}
	src, err := os.OpenRoot(from)
	if err != nil {
		return fmt.Errorf("copy targets: %w", err)
	}
	defer src.Close()
	dst, err := os.OpenRoot(to)
	if err != nil {
		return fmt.Errorf("copy targets: %w", err)
	}
	defer dst.Close()
	entries, err := fs.ReadDir(src.FS(), ".")
	if err != nil {
		return fmt.Errorf("copy targets: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, ".go") || name == "mage_output_file.go" {
			continue
		}
		b, err := src.ReadFile(name)
		if err != nil {
			return fmt.Errorf("copy targets: %w", err)
		}
		if err := dst.WriteFile(name, b, 0o600); err != nil {
			return fmt.Errorf("copy targets: %w", err)
		}
	}
	return nil
}

// prune keeps the n most recently used binaries in dir.
func prune(dir string, n int) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	type built struct {
		path string
		used int64
	}
	var all []built
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		all = append(all, built{filepath.Join(dir, e.Name()), info.ModTime().UnixNano()})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].used > all[j].used })
	var errs []error
	for i := n; i < len(all); i++ {
		errs = append(errs, os.RemoveAll(all[i].path))
	}
	return errors.Join(errs...)
}

// copyExecutable writes src to dst through a temporary file renamed into
// place, so a reader never sees half a binary.
func copyExecutable(src, dst string) error {
	in, err := os.Open(src) // #nosec G304 -- the binary Ensure built in the cache
	if err != nil {
		return fmt.Errorf("copy compiled magefiles: %w", err)
	}
	defer func() { _ = in.Close() }()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+"-")
	if err != nil {
		return fmt.Errorf("copy compiled magefiles to %s: %w", dst, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("copy compiled magefiles to %s: %w", dst, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("copy compiled magefiles to %s: %w", dst, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("copy compiled magefiles to %s: %w", dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("copy compiled magefiles to %s: %w", dst, err)
	}
	return nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
