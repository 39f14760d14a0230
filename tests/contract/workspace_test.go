package contract

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/workspace"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// Workspace files refuse to be created twice or walked through:
//   - import of an existing path without overwrite: "If path already exists
//     and overwrite is set to false, this call returns an error
//     RESOURCE_ALREADY_EXISTS" (Workspace API, import; the Databricks CLI's
//     cmd/workspace/workspace/workspace.go carries the text), answered 400
//     with "Path (<path>) already exists." (databricks/cli
//     libs/filer/workspace_files_client.go);
//   - an import with overwrite onto an object of another kind is the same
//     400 "already exists." (libs/filer reads it so whatever the mode);
//   - mkdirs through a file: "If there is an object (not a directory) at any
//     prefix of the input path, this call returns an error
//     RESOURCE_ALREADY_EXISTS" (Workspace API, mkdirs);
//   - import into a missing folder is 404 "The parent folder (<path>) does
//     not exist." (libs/testserver/fake_workspace.go, requireParentDirectory).
//
// The SDK maps RESOURCE_ALREADY_EXISTS to ErrResourceAlreadyExists whatever
// the status (apierr/error_mapping.go), so a client tests the code.
func TestWorkspaceFilesErrors(t *testing.T) {
	ws := start(t, emulator.Options{})
	c := testCtx(t)
	dir := "/Users/" + ws.srv.UserName() + "/contract"
	require.NoError(t, ws.w.Workspace.MkdirsByPath(c, dir+"/folder"))
	imp := func(p string, overwrite bool) error {
		return ws.w.Workspace.Import(c, workspace.Import{Path: p, Format: workspace.ImportFormatAuto, Overwrite: overwrite,
			Content: base64.StdEncoding.EncodeToString([]byte("{}"))})
	}
	require.NoError(t, imp(dir+"/lock.json", false))

	for _, tc := range []struct {
		name   string
		call   func() error
		status int
		is     error
		msg    string
	}{
		{"import over a file without overwrite", func() error { return imp(dir+"/lock.json", false) },
			http.StatusBadRequest, apierr.ErrResourceAlreadyExists, "Path (" + dir + "/lock.json) already exists."},
		{"import over a folder with overwrite", func() error { return imp(dir+"/folder", true) },
			http.StatusBadRequest, apierr.ErrResourceAlreadyExists, "already exists."},
		{"mkdirs through a file", func() error { return ws.w.Workspace.MkdirsByPath(c, dir+"/lock.json/sub") },
			http.StatusBadRequest, apierr.ErrResourceAlreadyExists, "already exists"},
		{"import into a missing folder", func() error { return imp(dir+"/missing/x.json", false) },
			http.StatusNotFound, apierr.ErrResourceDoesNotExist, "The parent folder (" + dir + "/missing) does not exist."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			ae := apiError(t, err)
			assert.Equal(t, tc.status, ae.StatusCode)
			assert.ErrorIs(t, err, tc.is)
			assert.Contains(t, ae.Message, tc.msg)
		})
	}
	require.NoError(t, imp(dir+"/lock.json", true), "overwrite replaces a file")
	require.NoError(t, ws.w.Workspace.MkdirsByPath(c, dir+"/folder"), "mkdirs of an existing folder is a no-op")
}
