package emulator

import (
	"context"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/require"

	emujobs "github.com/hitl-mlops/interrupt-agent/magefiles/emulator/jobs"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

// start runs an emulator for one test and returns it with an SDK client.
// The workspace registry's tests opt back in to it (Options.LegacyRegistry);
// startUC keeps the default, registry disabled.
func start(t testing.TB, opts Options) (*Server, *databricks.WorkspaceClient) {
	t.Helper()
	opts.LegacyRegistry = true
	return startUC(t, opts)
}

// startUC runs an emulator with opts as given: the legacy registry is
// disabled unless opts enable it.
func startUC(t testing.TB, opts Options) (*Server, *databricks.WorkspaceClient) {
	t.Helper()
	srv, err := Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	w, err := srv.WorkspaceClient()
	require.NoError(t, err)
	return srv, w
}

func ctx(t testing.TB) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// trainJob is a job shaped like the bundle's training job.
func trainJob(name, model string) jobs.CreateJob {
	return jobs.CreateJob{
		Name:       name,
		Parameters: []jobs.JobParameterDefinition{{Name: "release", Default: "v0.0.0"}},
		Tasks: []jobs.Task{{
			TaskKey: "train",
			SparkPythonTask: &jobs.SparkPythonTask{
				PythonFile: "/Workspace/Users/me/.bundle/files/src/train_entry.py",
				Parameters: []string{"--model-name", model, "--experiment", "/Shared/agent", "--git-sha", "abc1234", "--release", "{{job.parameters.release}}"},
			},
		}},
	}
}

// served is an endpoint config serving model versions with traffic shares
// (name-version pairs and percentages, in order).
func served(endpoint, model string, versions []string, shares []int) serving.EndpointCoreConfigInput {
	in := serving.EndpointCoreConfigInput{Name: endpoint}
	var routes []serving.Route
	for i, v := range versions {
		in.ServedEntities = append(in.ServedEntities, serving.ServedEntityInput{EntityName: model, EntityVersion: v, WorkloadSize: "Small", ScaleToZeroEnabled: true})
		if shares != nil {
			routes = append(routes, serving.Route{ServedEntityName: model + "-" + v, TrafficPercentage: shares[i]})
		}
	}
	if routes != nil {
		in.TrafficConfig = &serving.TrafficConfig{Routes: routes}
	}
	return in
}

// loggedRun makes an MLflow run that logged a model, as training does.
func loggedRun(t *testing.T, srv *Server) string {
	t.Helper()
	id := srv.runs.StartRun("/Shared/test", "train", srv.clock.Now(), nil)
	require.NoError(t, srv.runs.LogModel(id, emujobs.ModelArtifactPath))
	return id
}

// seed registers n READY versions of model.
func seed(t testing.TB, srv *Server, model string, n int) []string {
	t.Helper()
	var out []string
	for range n {
		v, _, err := srv.SeedModelVersion(model)
		require.NoError(t, err)
		out = append(out, v)
	}
	return out
}

// The SDK's *AndWait helpers are deprecated in favour of Wait.Get().

func runNowAndWait(c context.Context, w *databricks.WorkspaceClient, req jobs.RunNow) (*jobs.Run, error) {
	wait, err := w.Jobs.RunNow(c, req)
	if err != nil {
		return nil, err
	}
	return wait.Get()
}

func cancelRunAndWait(c context.Context, w *databricks.WorkspaceClient, req jobs.CancelRun) (*jobs.Run, error) {
	wait, err := w.Jobs.CancelRun(c, req)
	if err != nil {
		return nil, err
	}
	return wait.Get()
}

func createEndpointAndWait(c context.Context, w *databricks.WorkspaceClient, req serving.CreateServingEndpoint) (*serving.ServingEndpointDetailed, error) {
	wait, err := w.ServingEndpoints.Create(c, req)
	if err != nil {
		return nil, err
	}
	return wait.Get()
}

func updateConfigAndWait(c context.Context, w *databricks.WorkspaceClient, req serving.EndpointCoreConfigInput) (*serving.ServingEndpointDetailed, error) {
	wait, err := w.ServingEndpoints.UpdateConfig(c, req)
	if err != nil {
		return nil, err
	}
	return wait.Get()
}

// testVersion is a Unity Catalog version as the training task registers it.
func testVersion() unitycatalog.NewVersion {
	return unitycatalog.NewVersion{Source: "dbfs:/databricks/mlflow-tracking/1/abc/artifacts/agent", RunID: "abc"}
}
