// Package artifacts manages the report directory: every kind of report lives
// under artifacts/<kind>/ with a stable name, and old reports can be pruned
// with the same retention the workflows apply to uploaded artifacts.
package artifacts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// DefaultRetention matches the workflows' 30-day artifact retention.
const DefaultRetention = 30 * 24 * time.Hour

// Dir returns the artifacts directory of a repository root.
func Dir(root string) string { return filepath.Join(root, "artifacts") }

// Clean removes the whole artifacts directory. A missing directory is fine.
func Clean(root string) error {
	if err := os.RemoveAll(Dir(root)); err != nil {
		return fmt.Errorf("clean artifacts: %w", err)
	}
	return nil
}

// Prune removes report files last modified before now-keep and the
// directories that become empty; it returns how many files it removed.
// The walk and the removals go through an os.Root, so a symlink planted in
// artifacts/ cannot point a removal outside it.
func Prune(root string, keep time.Duration, now time.Time) (int, error) {
	if keep <= 0 {
		return 0, fmt.Errorf("prune artifacts: retention must be positive, got %s", keep)
	}
	dir, err := os.OpenRoot(Dir(root))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("prune artifacts: %w", err)
	}
	defer dir.Close()
	cutoff := now.Add(-keep)
	removed := 0
	var dirs []string
	err = fs.WalkDir(dir.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." {
				dirs = append(dirs, p)
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.ModTime().Before(cutoff) {
			if err := dir.Remove(p); err != nil {
				return err
			}
			removed++
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("prune artifacts: %w", err)
	}
	// Deepest first, so a parent empties after its children.
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = dir.Remove(dirs[i]) // fails, harmlessly, when not empty
	}
	return removed, nil
}
