// Package coretest serves a service package's routes for its tests: on a
// plain test server, without the emulator's gateway (tokens, faults, the
// request log), with an SDK client for it.
package coretest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// Serve runs routes on a test server closed with the test and returns an
// SDK client for it.
func Serve(t testing.TB, routes []core.Route) *databricks.WorkspaceClient {
	t.Helper()
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.Handle(rt.Pattern, rt)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	w, err := databricks.NewWorkspaceClient(core.ClientConfig(srv.URL, "token"))
	require.NoError(t, err)
	return w
}

// Ctx is a context that ends with the test, or after a minute.
func Ctx(t testing.TB) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}
