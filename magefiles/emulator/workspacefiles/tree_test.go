package workspacefiles

import (
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/workspace"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorkspaceFiles(t *testing.T) {
	tree, w := serve(t)
	c := ctx(t)
	root := "/Users/" + user + "/.bundle/agent/dev"
	require.NoError(t, w.Workspace.MkdirsByPath(c, root+"/files/src"))
	require.NoError(t, w.Workspace.MkdirsByPath(c, root+"/files/src"), "mkdirs is idempotent")

	// Multipart upload (the SDK's WriteFile / Upload).
	require.NoError(t, w.Workspace.WriteFile(c, root+"/files/databricks.yml", []byte("bundle: {}\n")))
	// JSON import of a notebook in SOURCE format.
	require.NoError(t, w.Workspace.Import(c, workspace.PythonNotebookOverwrite(root+"/files/src/train", "# Databricks notebook source\nprint(1)\n")))
	// AUTO format strips a notebook's extension.
	require.NoError(t, w.Workspace.Upload(c, root+"/files/src/nb.py", strings.NewReader("# Databricks notebook source\nx = 1\n"), workspace.UploadFormat(workspace.ImportFormatAuto)))

	got, err := w.Workspace.ReadFile(c, root+"/files/databricks.yml")
	require.NoError(t, err)
	assert.Equal(t, "bundle: {}\n", string(got))
	got, ok := tree.File(root + "/files/databricks.yml")
	require.True(t, ok)
	assert.Equal(t, "bundle: {}\n", string(got))

	exp, err := w.Workspace.Export(c, workspace.ExportRequest{Path: root + "/files/src/train"})
	require.NoError(t, err)
	raw, err := base64.StdEncoding.DecodeString(exp.Content)
	require.NoError(t, err)
	assert.Contains(t, string(raw), "print(1)")
	assert.Equal(t, "py", exp.FileType)

	rc, err := w.Workspace.Download(c, root+"/files/src/train")
	require.NoError(t, err)
	body, _ := io.ReadAll(rc)
	assert.Contains(t, string(body), "print(1)")

	info, err := w.Workspace.GetStatusByPath(c, root+"/files/databricks.yml")
	require.NoError(t, err)
	assert.Equal(t, workspace.ObjectTypeFile, info.ObjectType)
	assert.Equal(t, int64(11), info.Size)
	nb, err := w.Workspace.GetStatusByPath(c, root+"/files/src/nb")
	require.NoError(t, err)
	assert.Equal(t, workspace.ObjectTypeNotebook, nb.ObjectType)
	assert.Equal(t, workspace.LanguagePython, nb.Language)

	list, err := w.Workspace.ListAll(c, workspace.ListWorkspaceRequest{Path: root + "/files"})
	require.NoError(t, err)
	var paths []string
	for _, o := range list {
		paths = append(paths, o.Path)
	}
	assert.Equal(t, []string{root + "/files/databricks.yml", root + "/files/src"}, paths)
	all, err := w.Workspace.RecursiveList(c, root)
	require.NoError(t, err)
	assert.Len(t, all, 3)

	require.NoError(t, w.Workspace.Delete(c, workspace.Delete{Path: root + "/files/databricks.yml"}))
	_, err = w.Workspace.GetStatusByPath(c, root+"/files/databricks.yml")
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)
	require.NoError(t, w.Workspace.Delete(c, workspace.Delete{Path: root, Recursive: true}))
	_, err = w.Workspace.GetStatusByPath(c, root+"/files/src/train")
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)
}

func TestWorkspaceErrors(t *testing.T) {
	_, w := serve(t)
	c := ctx(t)
	require.NoError(t, w.Workspace.MkdirsByPath(c, "/Shared/dir/sub"))
	require.NoError(t, w.Workspace.WriteFile(c, "/Shared/dir/f.txt", []byte("x")))
	content := base64.StdEncoding.EncodeToString([]byte("y"))

	tests := []struct {
		name string
		call func() error
		want error
		msg  string
	}{
		{"import without overwrite", func() error {
			return w.Workspace.Import(c, workspace.Import{Path: "/Shared/dir/f.txt", Format: workspace.ImportFormatRaw, Content: content})
		}, apierr.ErrResourceAlreadyExists, "already exists"},
		{"import into a missing folder", func() error {
			return w.Workspace.Import(c, workspace.Import{Path: "/Shared/nope/f.txt", Format: workspace.ImportFormatRaw, Content: content})
		}, apierr.ErrResourceDoesNotExist, "parent folder"},
		{"source without a language", func() error {
			return w.Workspace.Import(c, workspace.Import{Path: "/Shared/dir/nb", Format: workspace.ImportFormatSource, Content: content})
		}, apierr.ErrInvalidParameterValue, "language"},
		{"relative path", func() error { return w.Workspace.MkdirsByPath(c, "Shared/x") }, apierr.ErrInvalidParameterValue, "not absolute"},
		{"mkdirs through a file", func() error { return w.Workspace.MkdirsByPath(c, "/Shared/dir/f.txt/x") }, apierr.ErrResourceAlreadyExists, "not a directory"},
		{"delete a non-empty folder", func() error { return w.Workspace.Delete(c, workspace.Delete{Path: "/Shared/dir"}) }, apierr.ErrBadRequest, "not empty"},
		{"delete a missing path", func() error { return w.Workspace.Delete(c, workspace.Delete{Path: "/Shared/none"}) }, apierr.ErrResourceDoesNotExist, "doesn't exist"},
		{"export a folder", func() error {
			_, err := w.Workspace.Export(c, workspace.ExportRequest{Path: "/Shared/dir"})
			return err
		}, apierr.ErrInvalidParameterValue, "directory"},
		{"list a missing folder", func() error {
			_, err := w.Workspace.ListAll(c, workspace.ListWorkspaceRequest{Path: "/Shared/none"})
			return err
		}, apierr.ErrResourceDoesNotExist, "doesn't exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
	// Overwrite replaces the content.
	require.NoError(t, w.Workspace.Import(c, workspace.Import{Path: "/Shared/dir/f.txt", Format: workspace.ImportFormatRaw, Content: content, Overwrite: true}))
	got, err := w.Workspace.ReadFile(c, "/Shared/dir/f.txt")
	require.NoError(t, err)
	assert.Equal(t, "y", string(got))
}
