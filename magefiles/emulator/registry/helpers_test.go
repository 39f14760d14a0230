package registry

import (
	"context"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core/coretest"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/jobs"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/tracking"
)

const user = "emulator@localhost"

// workspace is a registry with the MLflow runs it checks sources
// against, as one workspace has them.
type workspace struct {
	*Store
	runs  *tracking.Store
	clock core.Clock
}

func (w *workspace) now() time.Time { return w.clock.Now() }

// start serves an enabled registry (a workspace's is disabled unless it
// opts in) on a test server and returns it with an SDK client; these tests
// are about the registry, not the gateway.
func start(t *testing.T, opts Options) (*workspace, *databricks.WorkspaceClient) {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = core.WallClock{}
	}
	runs := tracking.New(tracking.Options{User: user, Clock: opts.Clock})
	opts.Enabled, opts.User, opts.Runs, opts.Registration = true, user, runs, DefaultRegistration
	s := New(opts)
	return &workspace{Store: s, runs: runs, clock: opts.Clock}, coretest.Serve(t, s.Routes())
}

func ctx(t *testing.T) context.Context { return coretest.Ctx(t) }

// loggedRun makes an MLflow run that logged a model, as training does.
func loggedRun(t *testing.T, w *workspace) string {
	t.Helper()
	id := w.runs.StartRun("/Shared/test", "train", w.now(), nil)
	require.NoError(t, w.runs.LogModel(id, jobs.ModelArtifactPath))
	return id
}

// seed registers n READY versions of model from finished runs that logged
// it, as a test that starts after training needs them.
func seed(t *testing.T, w *workspace, model string, n int) []string {
	t.Helper()
	var out []string
	for range n {
		runID := loggedRun(t, w)
		w.runs.EndRun(runID, ml.RunInfoStatusFinished, w.now())
		v, aerr := w.Register(model, "runs:/"+runID+"/"+jobs.ModelArtifactPath, runID)
		require.Nil(t, aerr)
		require.Equal(t, ml.ModelVersionStatusReady, v.Status)
		out = append(out, v.Version)
	}
	return out
}
