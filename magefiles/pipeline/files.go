package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// skipDirs are never inputs: VCS data, run output and caches.
var skipDirs = map[string]bool{
	".git": true, ".cache": true, "node_modules": true,
	"__pycache__": true, ".pytest_cache": true, ".mypy_cache": true, "htmlcov": true,
}

// skipRootDirs are never inputs at the root only: the run output, while
// a package of that name deeper down (magefiles/artifacts) is code.
var skipRootDirs = map[string]bool{"artifacts": true}

// fileIndex lists the repository's files once per run and hashes each file
// at most once, however many tasks read it.
type fileIndex struct {
	root string

	listOnce sync.Once
	files    []string // slash-separated, relative to root, sorted
	listErr  error

	mu     sync.Mutex
	hashes map[string]*fileHash
}

type fileHash struct {
	once sync.Once
	sum  string
	err  error
}

func newFileIndex(root string) *fileIndex {
	return &fileIndex{root: root, hashes: map[string]*fileHash{}}
}

func (x *fileIndex) list() ([]string, error) {
	x.listOnce.Do(func() {
		x.listErr = filepath.WalkDir(x.root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != x.root && (skipDirs[d.Name()] || strings.HasSuffix(d.Name(), ".egg-info") ||
					(skipRootDirs[d.Name()] && filepath.Dir(p) == x.root)) {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(x.root, p)
			if err != nil {
				return err
			}
			x.files = append(x.files, filepath.ToSlash(rel))
			return nil
		})
		sort.Strings(x.files)
	})
	return x.files, x.listErr
}

// match returns the files matching any of the patterns.
func (x *fileIndex) match(patterns []string) ([]string, error) {
	files, err := x.list()
	if err != nil {
		return nil, fmt.Errorf("list files under %s: %w", x.root, err)
	}
	var out []string
	for _, f := range files {
		for _, p := range patterns {
			if matchGlob(p, f) {
				out = append(out, f)
				break
			}
		}
	}
	return out, nil
}

func (x *fileIndex) hash(rel string) (string, error) {
	x.mu.Lock()
	h, ok := x.hashes[rel]
	if !ok {
		h = &fileHash{}
		x.hashes[rel] = h
	}
	x.mu.Unlock()
	h.once.Do(func() {
		f, err := os.Open(filepath.Join(x.root, filepath.FromSlash(rel)))
		if err != nil {
			h.err = err
			return
		}
		defer f.Close()
		d := sha256.New()
		if _, err := io.Copy(d, f); err != nil {
			h.err = err
			return
		}
		h.sum = hex.EncodeToString(d.Sum(nil))
	})
	return h.sum, h.err
}

// matchGlob matches a slash-separated path against a pattern in which `**`
// stands for zero or more whole path segments and other segments follow
// path.Match.
func matchGlob(pattern, name string) bool {
	return matchSegments(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			if len(rest) == 0 {
				return true
			}
			for i := 0; i <= len(name); i++ {
				if matchSegments(rest, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], name[0]); err != nil || !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
