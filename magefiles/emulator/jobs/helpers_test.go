package jobs

import (
	"context"
	"testing"

	"github.com/databricks/databricks-sdk-go"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core/coretest"
)

// start serves a jobs store on a test server and returns it with an SDK
// client. Its runs have nothing to log to or register in: these tests
// are about jobs, not what a run's tasks do.
func start(t *testing.T, opts Options) (*Store, *databricks.WorkspaceClient) {
	t.Helper()
	// Ids continue after 1000, as a workspace's do, so no test id such as
	// job 1 is ever a real one.
	opts.User, opts.IDs = "emulator@localhost", core.NewSequence(1000)
	s := New(opts)
	return s, coretest.Serve(t, s.Routes())
}

func ctx(t *testing.T) context.Context { return coretest.Ctx(t) }
