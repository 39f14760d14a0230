package workspace

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path"
	"sort"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/workspace"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// Files is a release.Store on workspace files, through the SDK's Workspace
// API (import/export/list/delete). Create-only writes are the workspace's
// import with overwrite=false, which fails when the file exists: that is
// what makes the deploy lock atomic.
type Files struct {
	API workspace.WorkspaceInterface
}

var _ release.Store = Files{}

func notExist(err error) bool {
	return errors.Is(err, apierr.ErrResourceDoesNotExist) || errors.Is(err, apierr.ErrNotFound)
}

func exists(err error) bool {
	return errors.Is(err, apierr.ErrResourceAlreadyExists) || errors.Is(err, apierr.ErrAlreadyExists)
}

// Read implements release.Store.
func (f Files) Read(ctx context.Context, name string) ([]byte, error) {
	resp, err := f.API.Export(ctx, workspace.ExportRequest{Path: name, Format: workspace.ExportFormatAuto})
	if notExist(err) {
		return nil, fmt.Errorf("workspace file %s: %w", name, release.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("read workspace file %s: %w", name, err)
	}
	raw, err := base64.StdEncoding.DecodeString(resp.Content)
	if err != nil {
		return nil, fmt.Errorf("read workspace file %s: content is not base64: %w", name, err)
	}
	return raw, nil
}

// Write implements release.Store. A missing parent folder is created and
// the import tried once more.
func (f Files) Write(ctx context.Context, name string, data []byte, overwrite bool) error {
	req := workspace.Import{
		Path:      name,
		Content:   base64.StdEncoding.EncodeToString(data),
		Format:    workspace.ImportFormatAuto,
		Overwrite: overwrite,
	}
	err := f.API.Import(ctx, req)
	if notExist(err) {
		if err := f.API.Mkdirs(ctx, workspace.Mkdirs{Path: path.Dir(name)}); err != nil {
			return fmt.Errorf("write workspace file %s: create folder: %w", name, err)
		}
		err = f.API.Import(ctx, req)
	}
	if exists(err) && !overwrite {
		return fmt.Errorf("workspace file %s: %w", name, release.ErrExist)
	}
	if exists(err) {
		// An overwrite cannot collide with a file: something that is not
		// one (a folder, a notebook) holds the path.
		return fmt.Errorf("write workspace file %s: the path holds an object that is not a file: %w", name, err)
	}
	if err != nil {
		return fmt.Errorf("write workspace file %s: %w", name, err)
	}
	return nil
}

// Mkdirs creates a folder and its parents (idempotent).
func (f Files) Mkdirs(ctx context.Context, dir string) error {
	if err := f.API.Mkdirs(ctx, workspace.Mkdirs{Path: dir}); err != nil {
		return fmt.Errorf("create workspace folder %s: %w", dir, err)
	}
	return nil
}

// List implements release.Store.
func (f Files) List(ctx context.Context, dir string) ([]string, error) {
	objs, err := f.API.ListAll(ctx, workspace.ListWorkspaceRequest{Path: dir})
	if notExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list workspace folder %s: %w", dir, err)
	}
	var names []string
	for _, o := range objs {
		if o.ObjectType == workspace.ObjectTypeFile && path.Dir(o.Path) == path.Clean(dir) {
			names = append(names, path.Base(o.Path))
		}
	}
	sort.Strings(names)
	return names, nil
}

// Delete implements release.Store.
func (f Files) Delete(ctx context.Context, name string) error {
	err := f.API.Delete(ctx, workspace.Delete{Path: name})
	if notExist(err) {
		return fmt.Errorf("workspace file %s: %w", name, release.ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("delete workspace file %s: %w", name, err)
	}
	return nil
}
