package emulator

import (
	"testing"

	"github.com/databricks/databricks-sdk-go/service/workspace"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The workspace files service answers behind the gateway: its routes are
// logged with their operation, and its content is what WorkspaceFile reads.
func TestWorkspaceFilesAreMounted(t *testing.T) {
	srv, w := start(t, Options{})
	c := ctx(t)
	require.NoError(t, w.Workspace.WriteFile(c, "/Shared/release.json", []byte(`{"version":"v1"}`)))
	_, err := w.Workspace.GetStatusByPath(c, "/Shared/release.json")
	require.NoError(t, err)

	got, ok := srv.WorkspaceFile("/Shared/release.json")
	require.True(t, ok)
	assert.JSONEq(t, `{"version":"v1"}`, string(got))
	_, ok = srv.WorkspaceFile("/Shared")
	assert.False(t, ok, "a folder has no content")

	var ops []string
	for _, r := range srv.RequestsFor("workspace.") {
		ops = append(ops, r.Op)
	}
	assert.Equal(t, []string{"workspace.import", "workspace.get-status"}, ops)
	mutating := srv.MutatingRequests()
	require.Len(t, mutating, 1)
	assert.Equal(t, "workspace.import", mutating[0].Op)
}

// Object ids and job ids come from the workspace's one id sequence: the
// seeded folders take the first ids.
func TestWorkspaceObjectsShareTheIDSequence(t *testing.T) {
	_, w := start(t, Options{})
	c := ctx(t)
	shared, err := w.Workspace.GetStatusByPath(c, "/Shared")
	require.NoError(t, err)
	assert.Equal(t, int64(1004), shared.ObjectId, "/, /Users, the home folder, then /Shared")

	created, err := w.Jobs.Create(c, trainJob("agent-train", "agent"))
	require.NoError(t, err)
	require.NoError(t, w.Workspace.Import(c, workspace.Import{Path: "/Shared/a.txt", Format: workspace.ImportFormatRaw}))
	file, err := w.Workspace.GetStatusByPath(c, "/Shared/a.txt")
	require.NoError(t, err)
	assert.Equal(t, []int64{1005, 1006}, []int64{created.JobId, file.ObjectId})
}
