package workspacefiles

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/stretchr/testify/require"
)

const user = "emulator@localhost"

// serve runs a fresh tree's routes on a test server and returns the tree
// with an SDK client for it. The emulator's gateway (tokens, faults, the
// request log) is not in the way: these tests are about the tree.
func serve(t *testing.T) (*Tree, *databricks.WorkspaceClient) {
	t.Helper()
	tree := New(Options{User: user})
	mux := http.NewServeMux()
	for _, rt := range tree.Routes() {
		mux.Handle(rt.Pattern, rt)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	w, err := databricks.NewWorkspaceClient(&databricks.Config{
		Host: srv.URL, Token: "token", AuthType: "pat", Credentials: config.PatCredentials{},
		Loaders: []config.Loader{noLoader{}}, RateLimitPerSecond: 100_000,
	})
	require.NoError(t, err)
	return tree, w
}

// noLoader keeps the SDK from reading environment variables and config files.
type noLoader struct{}

func (noLoader) Name() string                   { return "test" }
func (noLoader) Configure(*config.Config) error { return nil }

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}
