package workspacefiles

import (
	"context"
	"testing"

	"github.com/databricks/databricks-sdk-go"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core/coretest"
)

const user = "emulator@localhost"

// serve runs a fresh tree's routes on a test server and returns the tree
// with an SDK client for it; these tests are about the tree, not the
// gateway.
func serve(t *testing.T) (*Tree, *databricks.WorkspaceClient) {
	t.Helper()
	tree := New(Options{User: user})
	return tree, coretest.Serve(t, tree.Routes())
}

func ctx(t *testing.T) context.Context { return coretest.Ctx(t) }
