package ci

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// shareCaches points the tool and vulnerability-index caches in the
// cache directory dst (a .cache) at src's.
func shareCaches(src, dst string) error {
	for _, d := range []string{"tools", "vulndb"} {
		from := filepath.Join(src, d)
		to := filepath.Join(dst, d)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(from, to); err != nil {
			return fmt.Errorf("share %s: %w", d, err)
		}
	}
	return nil
}

// appendLine makes the one-line edit: a comment at the end of the file,
// in the file's language.
func appendLine(path string) error {
	comment := "// bench: a one-line edit\n"
	if strings.HasSuffix(path, ".py") {
		comment = "# bench: a one-line edit\n"
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0) // #nosec G304 -- a source file of the bench's own scratch clone
	if err != nil {
		return fmt.Errorf("one-line edit: %w", err)
	}
	if _, err := f.WriteString(comment); err != nil {
		_ = f.Close() // the write's error is the one to report
		return fmt.Errorf("one-line edit: %w", err)
	}
	return f.Close()
}
