// Package secretscan finds secrets with gitleaks' detector (as a library)
// in a repository's working tree or in every commit of its history, and
// keeps a baseline of accepted findings. A Finding never holds the secret:
// only where it is, which rule matched, and a one-way fingerprint that a
// baseline can compare.
package secretscan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/fatih/semgroup"
	"github.com/rs/zerolog"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
	"github.com/zricethezav/gitleaks/v8/report"
	"github.com/zricethezav/gitleaks/v8/sources"
)

// Finding is one secret, located but not revealed.
type Finding struct {
	File        string `json:"file"`
	Line        int    `json:"line"`
	Column      int    `json:"column,omitempty"`
	Rule        string `json:"rule"`
	Description string `json:"description,omitempty"`
	Commit      string `json:"commit,omitempty"` // history scans only
	// Fingerprint is a one-way hash of the rule, the file and the secret:
	// stable when lines move, different for a new secret.
	Fingerprint string `json:"fingerprint"`
}

// Location renders file:line (with the short commit in history scans).
func (f Finding) Location() string {
	loc := fmt.Sprintf("%s:%d", f.File, f.Line)
	if f.Commit != "" {
		short := f.Commit
		if len(short) > 10 {
			short = short[:10]
		}
		loc = short + ":" + loc
	}
	return loc
}

// Options choose what to scan.
type Options struct {
	// History scans every commit reachable from any ref (git log -p
	// --all) instead of the working tree.
	History bool
	// Skip lists slash-separated paths never scanned (the baseline file).
	Skip []string
}

// skipDirs are never part of the working tree scan: VCS data, run output
// and caches.
var skipDirs = map[string]bool{".git": true, ".cache": true, "artifacts": true, "node_modules": true,
	"__pycache__": true, ".pytest_cache": true, ".mypy_cache": true, "htmlcov": true}

// maxFileSize bounds what is read: secrets do not hide in 10 MB blobs
// the repository would never hold.
const maxFileSize = 10 << 20

var (
	cfgOnce sync.Once
	cfg     config.Config
	cfgErr  error
)

// defaultConfig translates gitleaks' default rules once per process.
// gitleaks reads them through viper's global state, so this must not run
// concurrently with itself; its logger is silenced here too.
func defaultConfig() (config.Config, error) {
	cfgOnce.Do(func() {
		logging.Logger = zerolog.Nop()
		d, err := detect.NewDetectorDefaultConfig()
		if err != nil {
			cfgErr = fmt.Errorf("load gitleaks rules: %w", err)
			return
		}
		cfg = d.Config
	})
	return cfg, cfgErr
}

// Version is the gitleaks library version the scan uses, for cache keys.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/zricethezav/gitleaks/v8" {
				if d.Replace != nil {
					return d.Path + " " + d.Replace.Version
				}
				return d.Path + " " + d.Version
			}
		}
	}
	return "github.com/zricethezav/gitleaks/v8 (unknown version)"
}

// Scan returns the secrets in root, sorted by location.
func Scan(ctx context.Context, root string, opts Options) ([]Finding, error) {
	c, err := defaultConfig()
	if err != nil {
		return nil, err
	}
	d := detect.NewDetectorContext(ctx, c)
	d.MaxTargetMegaBytes = maxFileSize >> 20
	skip := map[string]bool{}
	for _, s := range opts.Skip {
		skip[s] = true
	}
	var raw []report.Finding
	if opts.History {
		raw, err = scanHistory(ctx, d, root)
	} else {
		raw, err = scanTree(ctx, d, root, skip)
	}
	if err != nil {
		return nil, err
	}
	out := make([]Finding, 0, len(raw))
	for _, f := range raw {
		file := filepath.ToSlash(f.File)
		if skip[file] {
			continue
		}
		out = append(out, Finding{
			File: file, Line: f.StartLine, Column: f.StartColumn, Rule: f.RuleID,
			Description: f.Description, Commit: f.Commit,
			Fingerprint: fingerprint(f.RuleID, file, f.Secret),
		})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Commit < b.Commit
	})
	return dedupe(out), nil
}

// fingerprint hashes the secret with its rule and file. Only this hash
// is ever stored or printed.
func fingerprint(rule, file, secret string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + file + "\x00" + secret))
	return hex.EncodeToString(h[:16])
}

// dedupe drops repeats of one secret at one place (a history scan sees a
// line once per commit that touched it only if it was re-added).
func dedupe(fs []Finding) []Finding {
	seen := map[string]bool{}
	out := fs[:0]
	for _, f := range fs {
		k := fmt.Sprintf("%s\x00%d\x00%s\x00%s", f.File, f.Line, f.Commit, f.Fingerprint)
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}

func scanTree(ctx context.Context, d *detect.Detector, root string, skip map[string]bool) ([]report.Finding, error) {
	files, err := treeFiles(ctx, root)
	if err != nil {
		return nil, err
	}
	for _, rel := range files {
		if skip[rel] || skipped(rel) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := filepath.Join(root, filepath.FromSlash(rel))
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxFileSize {
			continue // deleted in the tree, a symlink, or too big
		}
		// #nosec G304 -- a file of the repository being scanned (git ls-files, or the walk), regular and size-bounded
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", rel, err)
		}
		src := &sources.File{Content: bytes.NewReader(b), Path: rel, Config: &d.Config}
		if _, err := d.DetectSource(ctx, src); err != nil {
			return nil, fmt.Errorf("scan %s: %w", rel, err)
		}
	}
	return d.Findings(), nil
}

func skipped(rel string) bool {
	for _, part := range strings.Split(rel, "/") {
		if skipDirs[part] {
			return true
		}
	}
	return false
}

// treeFiles lists what a push could carry: tracked files plus untracked
// ones git does not ignore. Outside a git repository it walks the tree.
func treeFiles(ctx context.Context, root string) ([]string, error) {
	// #nosec G204 -- git, a fixed program; root is the repository being scanned; no shell
	cmd := exec.CommandContext(ctx, "git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil {
		var files []string
		seen := map[string]bool{}
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" && !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
		return files, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if !strings.Contains(stderr.String(), "not a git repository") {
		return nil, fmt.Errorf("list files with git: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() {
			if p != root && skipDirs[de.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list files under %s: %w", root, err)
	}
	return files, nil
}

// ErrNoHistory is returned by a history scan outside a git repository.
var ErrNoHistory = errors.New("not a git repository: no history to scan")

func scanHistory(ctx context.Context, d *detect.Detector, root string) ([]report.Finding, error) {
	// #nosec G204 -- git, a fixed program; root is the repository being scanned; no shell
	if err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--git-dir").Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ErrNoHistory
	}
	cmd, err := sources.NewGitLogCmdContext(ctx, root, "")
	if err != nil {
		return nil, fmt.Errorf("git log: %w", err)
	}
	src := &sources.Git{Cmd: cmd, Config: &d.Config, Remote: &sources.RemoteInfo{}, Sema: semgroup.NewGroup(ctx, 4)}
	if _, err := d.DetectSource(ctx, src); err != nil {
		return nil, fmt.Errorf("scan history: %w", err)
	}
	return d.Findings(), nil
}
