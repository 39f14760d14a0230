package emulator

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// Each workspace has its own state, URL, token and workspace id: what one
// holds the others do not know, and one's token opens no other.
func TestWorkspacesAreSeparate(t *testing.T) {
	ws, err := StartWorkspaces([]string{"dev", "staging", "prod"}, Options{LegacyRegistry: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ws.Close()) })
	assert.Equal(t, []string{"dev", "staging", "prod"}, ws.Names())
	dev, staging := ws.Get("dev"), ws.Get("staging")
	require.NotNil(t, dev)
	assert.Nil(t, ws.Get("qa"))
	assert.NotEqual(t, dev.URL(), staging.URL())
	assert.NotEqual(t, dev.Token(), staging.Token())

	c := ctx(t)
	ids := map[int64]bool{}
	for _, n := range ws.Names() {
		w, err := ws.Get(n).WorkspaceClient()
		require.NoError(t, err)
		id, err := w.CurrentWorkspaceID(c)
		require.NoError(t, err)
		ids[id] = true
	}
	assert.Len(t, ids, 3, "distinct workspace ids")

	version, _, err := dev.SeedModelVersion("agent")
	require.NoError(t, err)
	sw, err := staging.WorkspaceClient()
	require.NoError(t, err)
	_, err = sw.ModelRegistry.GetModelVersion(c, ml.GetModelVersionRequest{Name: "agent", Version: version})
	assert.ErrorIs(t, err, apierr.ErrResourceDoesNotExist, "staging does not know dev's model")

	wrong := core.ClientConfig(staging.URL(), dev.Token())
	w, err := databricks.NewWorkspaceClient(wrong)
	require.NoError(t, err)
	_, err = w.CurrentUser.Me(c, iam.MeRequest{})
	assert.ErrorIs(t, err, apierr.ErrPermissionDenied, "dev's token does not open staging")

	env := ws.Env()
	assert.Equal(t, dev.URL(), env["DATABRICKS_HOST_DEV"])
	assert.Equal(t, ws.Get("prod").Token(), env["DATABRICKS_TOKEN_PROD"])
	assert.Len(t, env, 6)
}

func TestWorkspaceOptions(t *testing.T) {
	o, err := workspaceOptions(Options{Addr: "127.0.0.1:8100", StateFile: "/tmp/w.json", WorkspaceID: 500, Token: "t", Seed: 1}, "staging", 1)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8101", o.Addr)
	assert.Equal(t, filepath.FromSlash("/tmp/w-staging.json"), o.StateFile)
	assert.Equal(t, int64(501), o.WorkspaceID)
	assert.Empty(t, o.Token, "each workspace makes its own token")
	assert.NotEqual(t, uint64(1), o.Seed)

	o, err = workspaceOptions(Options{Addr: "127.0.0.1:0"}, "prod", 2)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:0", o.Addr, "free ports stay free")
	assert.Equal(t, DefaultWorkspaceID+3, o.WorkspaceID)

	_, err = workspaceOptions(Options{Addr: "nohost"}, "dev", 0)
	assert.ErrorContains(t, err, "nohost")
}

func TestStartWorkspacesRefusesBadNames(t *testing.T) {
	for _, tc := range []struct {
		names []string
		msg   string
	}{
		{nil, "no workspace names"},
		{[]string{"Dev"}, `workspace name "Dev"`},
		{[]string{"dev", "dev"}, `"dev" named twice`},
	} {
		_, err := StartWorkspaces(tc.names, Options{})
		assert.ErrorContains(t, err, tc.msg)
	}
	_, err := StartWorkspaces([]string{"dev"}, Options{Addr: "10.1.2.3:0"})
	assert.ErrorContains(t, err, "loopback")
}

// emulator:serve -workspaces=dev,staging,prod prints the exports of each.
func TestServeWorkspacesPrintsEachWorkspace(t *testing.T) {
	pr, pw := io.Pipe()
	c, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeWorkspaces(c, []string{"dev", "staging", "prod"}, Options{}, pw)
		pw.Close()
	}()
	env := map[string]string{}
	var notes []string
	lines := bufio.NewScanner(pr)
	for lines.Scan() {
		line := lines.Text()
		if kv, ok := strings.CutPrefix(line, "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
			continue
		}
		notes = append(notes, line)
		if strings.HasPrefix(line, "# 3 Databricks") {
			break
		}
	}
	for _, n := range []string{"DEV", "STAGING", "PROD"} {
		require.Contains(t, env, "DATABRICKS_HOST_"+n)
		require.Contains(t, env, "DATABRICKS_TOKEN_"+n)
		req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, env["DATABRICKS_HOST_"+n]+"/api/2.0/preview/scim/v2/Me", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+env["DATABRICKS_TOKEN_"+n])
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, n)
	}
	assert.Contains(t, strings.Join(notes, "\n"), "unset DATABRICKS_HOST DATABRICKS_TOKEN")
	stopServing(t, pr, cancel, done)
}
