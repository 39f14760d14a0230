package project

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
)

// BundlePaths are what a scratch release repository (the demo's, the
// end-to-end tests') takes from the project: the bundle, the model's code
// and the integration cases verify runs.
var BundlePaths = []string{"databricks.yml", "resources", "src", "tests/integration", "tests/validation"}

var hostLine = regexp.MustCompile(`(?m)^([ \t]*host:[ \t]*)\S+[ \t]*$`)

// CopyBundle copies BundlePaths from the project at root into dir and
// points every target's workspace.host at host, so a deploy from dir goes
// to that workspace (an emulator) whatever the project's targets say.
func CopyBundle(root, dir, host string) error {
	return copyBundle(root, dir, func(raw []byte) []byte { return hostLine.ReplaceAll(raw, []byte("${1}"+host)) })
}

// CopyBundleHosts is CopyBundle with a workspace per target: each target
// named in hosts points at its own host (separate emulated workspaces);
// the others keep theirs.
func CopyBundleHosts(root, dir string, hosts map[string]string) error {
	return copyBundle(root, dir, func(raw []byte) []byte { return pointTargets(raw, hosts) })
}

var (
	topKey    = regexp.MustCompile(`^[A-Za-z_][\w-]*:`)
	targetKey = regexp.MustCompile(`^  ([A-Za-z0-9_-]+):[ \t]*$`)
)

// pointTargets rewrites the host line inside each named target of
// databricks.yml's targets mapping.
func pointTargets(raw []byte, hosts map[string]string) []byte {
	lines := strings.SplitAfter(string(raw), "\n")
	inTargets, target := false, ""
	for i, line := range lines {
		bare := strings.TrimRight(line, "\r\n")
		switch {
		case topKey.MatchString(bare):
			inTargets, target = strings.HasPrefix(bare, "targets:"), ""
		case inTargets && targetKey.MatchString(bare):
			target = targetKey.FindStringSubmatch(bare)[1]
		case inTargets && target != "" && hosts[target] != "" && hostLine.MatchString(bare):
			lines[i] = hostLine.ReplaceAllString(bare, "${1}"+hosts[target]) + line[len(bare):]
		}
	}
	return []byte(strings.Join(lines, ""))
}

// CopyBundleFiles copies the named files or trees from src into dir as they
// are (no host rewrite). Both sides are opened as os.Root, so a symlink in
// either tree cannot lead a read or a write outside it.
func CopyBundleFiles(src, dir string, paths ...string) error {
	from, err := os.OpenRoot(src)
	if err != nil {
		return fmt.Errorf("copy bundle: %w", err)
	}
	defer from.Close()
	to, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("copy bundle: %w", err)
	}
	defer to.Close()
	for _, p := range paths {
		if err := copyTree(from, to, p); err != nil {
			return fmt.Errorf("copy %s: %w", p, err)
		}
	}
	return nil
}

func copyBundle(root, dir string, rewrite func([]byte) []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("copy bundle: %w", err)
	}
	if err := CopyBundleFiles(root, dir, BundlePaths...); err != nil {
		return err
	}
	// The rewrite goes through os.Root too: databricks.yml of the copy just
	// made, never a file a symlink points at.
	to, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("copy bundle: %w", err)
	}
	defer to.Close()
	raw, err := to.ReadFile("databricks.yml")
	if err != nil {
		return fmt.Errorf("copy bundle: %w", err)
	}
	if err := to.WriteFile("databricks.yml", rewrite(raw), 0o600); err != nil {
		return fmt.Errorf("copy bundle: %w", err)
	}
	return nil
}

// copyTree copies the file or directory p from src to dst, leaving out
// hidden directories (.git, caches) and Python bytecode.
func copyTree(src, dst *os.Root, p string) error {
	return fs.WalkDir(src.FS(), p, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "__pycache__" || strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return dst.MkdirAll(p, 0o755)
		}
		if path.Ext(p) == ".pyc" {
			return nil
		}
		if dir := path.Dir(p); dir != "." {
			if err := dst.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		raw, err := src.ReadFile(p)
		if err != nil {
			return err
		}
		return dst.WriteFile(p, raw, 0o644)
	})
}
