package release

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/atomicfile"
)

// Store is a small file store: the workspace (through the SDK's Workspace
// API, see the workspace package) for the records every machine shares, and
// a local directory for the copy under artifacts/. Paths are slash-separated.
type Store interface {
	// Read returns the file's content, or an error wrapping ErrNotExist.
	Read(ctx context.Context, name string) ([]byte, error)
	// Write stores data, creating parent folders. With overwrite false it is
	// atomic create-if-absent and fails with an error wrapping ErrExist when
	// the file is there: the lock relies on it.
	Write(ctx context.Context, name string, data []byte, overwrite bool) error
	// List returns the names (not paths) of the files directly in dir,
	// sorted; a missing dir is an empty list.
	List(ctx context.Context, dir string) ([]string, error)
	// Delete removes a file; a missing file wraps ErrNotExist.
	Delete(ctx context.Context, name string) error
}

// The errors stores wrap.
var (
	ErrNotExist = fs.ErrNotExist
	ErrExist    = fs.ErrExist
)

// DirStore is a Store on the local disk rooted at Dir; a workspace path
// such as /Workspace/x/releases/dev/r.json lands at Dir/Workspace/x/... only
// if the caller passes it so. Callers use it with short relative paths.
type DirStore struct {
	Dir string
}

func (d DirStore) path(name string) (string, error) {
	clean := path.Clean("/" + name)
	if strings.Contains(clean, "..") {
		return "", fmt.Errorf("store path %q escapes %s", name, d.Dir)
	}
	return filepath.Join(d.Dir, filepath.FromSlash(clean)), nil
}

// Read implements Store.
func (d DirStore) Read(_ context.Context, name string) ([]byte, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	// #nosec G304 -- a record path inside the store's own directory; names are record IDs this package makes
	return os.ReadFile(p)
}

// Write implements Store.
func (d DirStore) Write(_ context.Context, name string, data []byte, overwrite bool) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if !overwrite {
		// #nosec G304 -- a record path inside the store's own directory; names are record IDs this package makes
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	// Replaced whole, so a reader never sees half a record.
	return atomicfile.Write(p, data, 0o644)
}

// List implements Store.
func (d DirStore) List(_ context.Context, dir string) ([]string, error) {
	p, err := d.path(dir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".tmp-") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Delete implements Store.
func (d DirStore) Delete(_ context.Context, name string) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	return os.Remove(p)
}
