package project

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CopyTree copies the project files under from to to, leaving out hidden
// directories (.git, caches) and Python bytecode: what a scratch release
// repository (the demo's, the end-to-end tests') needs from this one.
func CopyTree(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != from && (d.Name() == "__pycache__" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dest := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dest, 0o755)
		}
		if strings.HasSuffix(p, ".pyc") {
			return nil
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dest, raw, 0o644)
	})
}
