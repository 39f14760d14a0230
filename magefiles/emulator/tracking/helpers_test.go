package tracking

import (
	"context"
	"testing"

	"github.com/databricks/databricks-sdk-go"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core/coretest"
)

const user = "emulator@localhost"

// serve runs the routes of a store on a test server and returns an SDK
// client for it; these tests are about the store, not the gateway.
func serve(t *testing.T, store *Store) *databricks.WorkspaceClient {
	t.Helper()
	return coretest.Serve(t, store.Routes())
}

func ctx(t *testing.T) context.Context { return coretest.Ctx(t) }
