package tracking

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

// serve runs the routes of a store on a test server and returns an SDK
// client for it. The emulator's gateway (tokens, faults, the request log)
// is not in the way: these tests are about the store.
func serve(t *testing.T, store *Store) *databricks.WorkspaceClient {
	t.Helper()
	mux := http.NewServeMux()
	for _, rt := range store.Routes() {
		mux.Handle(rt.Pattern, rt)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	w, err := databricks.NewWorkspaceClient(&databricks.Config{
		Host: srv.URL, Token: "token", AuthType: "pat", Credentials: config.PatCredentials{},
		Loaders: []config.Loader{noLoader{}}, RateLimitPerSecond: 100_000,
	})
	require.NoError(t, err)
	return w
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
