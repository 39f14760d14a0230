package workspace

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

func testRequest(t *testing.T, srv *emulator.Server) DeployRequest {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "src/pkg/__init__.py"), "")
	writeFile(t, filepath.Join(root, "src/pkg/train.py"), "print('train')\n")
	writeFile(t, filepath.Join(root, "src/pkg/__pycache__/train.cpython-311.pyc"), "junk")
	writeFile(t, filepath.Join(root, "src/.hidden"), "junk")
	return DeployRequest{
		Target:     "dev",
		BundleRoot: root,
		RootPath:   "/Users/" + srv.UserName() + "/.bundle/agent/dev",
		Resources: Resources{
			Jobs: map[string]*jobs.JobSettings{"train": {
				Name:       "[dev] train",
				Parameters: []jobs.JobParameterDefinition{{Name: "git_sha", Default: "unknown"}, {Name: "release_tag", Default: "v0.0.0"}},
				Tasks: []jobs.Task{{TaskKey: "train", SparkPythonTask: &jobs.SparkPythonTask{
					PythonFile: "src/pkg/train.py", Parameters: []string{"--model-name", "dev-model"}}}},
			}},
			Models:      map[string]*ml.CreateModelRequest{"agent": {Name: "dev-model", Description: "the agent"}},
			Experiments: map[string]*ml.Experiment{"exp": {Name: "/Shared/agent-dev"}},
			// Scale to zero off, which the SDK alone would leave out of the
			// JSON and the service refuses (see package forcesend).
			Endpoints: map[string]*serving.CreateServingEndpoint{"ep": {Name: "agent-dev", Config: &serving.EndpointCoreConfigInput{
				ServedEntities: []serving.ServedEntityInput{{EntityName: "dev-model", EntityVersion: "1", WorkloadSize: "Small"}},
			}}},
		},
		Tags:          map[string]string{"release": "v1.0.0", "git_sha": "abc123", "target": "dev"},
		JobParameters: map[string]string{"git_sha": "abc123", "release_tag": "v1.0.0", "release": "v1.0.0"},
	}
}

func actions(res *DeployResult) map[string]Action {
	out := map[string]Action{}
	for _, c := range res.Changes {
		out[c.Kind+"/"+c.Key] = c.Action
	}
	return out
}

func TestSDKEngineDeployAndRedeploy(t *testing.T) {
	ctx := context.Background()
	srv := startEmulator(t)
	c := connect(t, srv)
	req := testRequest(t, srv)
	var out bytes.Buffer
	req.Out = &out

	// Plan first: reads only.
	srv.ResetRequests()
	plan, err := Plan(ctx, c, req)
	require.NoError(t, err)
	assert.Empty(t, srv.MutatingRequests(), "plan changes nothing")
	assert.Equal(t, map[string]Action{
		"files/sync": ActionUpdate, "experiment/exp": ActionCreate, "model/agent": ActionCreate,
		"job/train": ActionCreate, "endpoint/ep": ActionDeferred,
	}, actions(plan))
	assert.Equal(t, 2, plan.Files.Uploaded, "__pycache__ and dotfiles are not uploaded")

	res, err := (&SDKEngine{}).Deploy(ctx, c, req)
	require.NoError(t, err)
	assert.Equal(t, actions(plan), actions(res), "deploy does what the plan said")
	jobID := res.JobIDs["train"]
	require.NotZero(t, jobID)
	job, ok := srv.Job("[dev] train")
	require.True(t, ok)
	assert.Equal(t, jobID, job.JobId)
	assert.Equal(t, "v1.0.0", job.Settings.Tags["release"])
	params := map[string]string{}
	for _, p := range job.Settings.Parameters {
		params[p.Name] = p.Default
	}
	assert.Equal(t, map[string]string{"release_tag": "v1.0.0", "git_sha": "abc123"}, params, "declared parameters default to the release; none added")
	got, ok := srv.WorkspaceFile(req.RootPath + "/files/src/pkg/train.py")
	require.True(t, ok)
	assert.Equal(t, "print('train')\n", string(got))
	_, ok = srv.WorkspaceFile(req.StateFile())
	assert.True(t, ok, "deployment record written")
	assert.Contains(t, out.String(), "create   job        [dev] train")

	// Same release again: nothing to do, nothing duplicated.
	srv.ResetRequests()
	res2, err := (&SDKEngine{}).Deploy(ctx, c, req)
	require.NoError(t, err)
	assert.Equal(t, map[string]Action{
		"experiment/exp": ActionUnchanged, "model/agent": ActionUnchanged,
		"job/train": ActionUnchanged, "endpoint/ep": ActionDeferred,
	}, actions(res2))
	assert.Equal(t, jobID, res2.JobIDs["train"])
	assert.Equal(t, 2, res2.Files.Unchanged)
	for _, r := range srv.MutatingRequests() {
		assert.Equal(t, "workspace.import", r.Op, "only the deployment record is rewritten: %s %s", r.Method, r.Path)
	}

	// A new release with a changed file, a model version to serve and a
	// job removed from the bundle.
	writeFile(t, filepath.Join(req.BundleRoot, "src/pkg/train.py"), "print('train v2')\n")
	_, _, err = srv.SeedModelVersion("dev-model")
	require.NoError(t, err)
	req.Tags = map[string]string{"release": "v1.1.0", "git_sha": "def456", "target": "dev"}
	req.JobParameters = map[string]string{"git_sha": "def456", "release_tag": "v1.1.0"}
	req.Resources.Jobs = map[string]*jobs.JobSettings{"train2": {Name: "[dev] train2", Tasks: req.Resources.Jobs["train"].Tasks}}
	res3, err := (&SDKEngine{}).Deploy(ctx, c, req)
	require.NoError(t, err)
	assert.Equal(t, map[string]Action{
		"files/sync": ActionUpdate, "experiment/exp": ActionUnchanged, "model/agent": ActionUpdate,
		"job/train2": ActionCreate, "job/train": ActionRemoved, "endpoint/ep": ActionCreate,
	}, actions(res3))
	require.Len(t, res3.Removed(), 1)
	assert.Equal(t, "[dev] train", res3.Removed()[0].Name)
	_, ok = srv.Job("[dev] train")
	assert.True(t, ok, "a removed resource is reported, not deleted")
	ep, ok := srv.Endpoint("agent-dev")
	require.True(t, ok)
	require.NotNil(t, ep.Config)
	assert.False(t, ep.Config.ServedEntities[0].ScaleToZeroEnabled)
	tags := map[string]string{}
	for _, tg := range ep.Tags {
		tags[tg.Key] = tg.Value
	}
	assert.Equal(t, "v1.1.0", tags["release"])
	assert.Contains(t, res3.Summary(), "files: 1 uploaded, 1 unchanged, 0 deleted")
}

func TestSDKEngineNeverChangesWhatAnEndpointServes(t *testing.T) {
	ctx := context.Background()
	srv := startEmulator(t)
	c := connect(t, srv)
	req := testRequest(t, srv)
	_, _, err := srv.SeedModelVersion("dev-model")
	require.NoError(t, err)
	v2, _, err := srv.SeedModelVersion("dev-model")
	require.NoError(t, err)
	_, err = (&SDKEngine{}).Deploy(ctx, c, req)
	require.NoError(t, err)
	_, err = c.W.ServingEndpoints.WaitGetServingEndpointNotUpdating(ctx, "agent-dev", 0, nil)
	require.NoError(t, err)

	// The bundle now names version 2; the endpoint keeps serving version 1.
	req.Resources.Endpoints["ep"].Config.ServedEntities[0].EntityVersion = v2
	srv.ResetRequests()
	_, err = (&SDKEngine{}).Deploy(ctx, c, req)
	require.NoError(t, err)
	assert.Empty(t, srv.RequestsFor("serving-endpoints.update-config"))
	assert.Equal(t, map[string]int{"dev-model-1": 100}, srv.Traffic("agent-dev"))
}

func TestSDKEngineCreateFailsThenConverges(t *testing.T) {
	ctx := context.Background()
	srv := startEmulator(t)
	c := connect(t, srv)
	req := testRequest(t, srv)

	srv.InjectFaults("POST /api/2.2/jobs/create", emulator.Fault500)
	_, err := (&SDKEngine{}).Deploy(ctx, c, req)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "deploy dev: jobs: create job [dev] train")

	res, err := (&SDKEngine{}).Deploy(ctx, c, req)
	require.NoError(t, err)
	assert.Equal(t, ActionCreate, actions(res)["job/train"])
	assert.Equal(t, ActionUnchanged, actions(res)["model/agent"], "the model made by the first attempt is reused")
	assert.Len(t, srv.RequestsFor("jobs.create"), 2)
}

func TestSDKEngineAdoptsJobMissingFromRecord(t *testing.T) {
	ctx := context.Background()
	srv := startEmulator(t)
	c := connect(t, srv)
	req := testRequest(t, srv)
	_, err := (&SDKEngine{}).Deploy(ctx, c, req)
	require.NoError(t, err)
	// A crash between creating the job and writing the record.
	require.NoError(t, Files{API: c.W.Workspace}.Delete(ctx, req.StateFile()))
	res, err := (&SDKEngine{}).Deploy(ctx, c, req)
	require.NoError(t, err)
	assert.Equal(t, ActionAdopt, actions(res)["job/train"])
	jobsList, err := c.W.Jobs.ListAll(ctx, jobs.ListJobsRequest{})
	require.NoError(t, err)
	assert.Len(t, jobsList, 1, "no duplicate job")
}

func TestSDKEngineDuplicateJobNames(t *testing.T) {
	ctx := context.Background()
	srv := startEmulator(t)
	c := connect(t, srv)
	req := testRequest(t, srv)
	for i := 0; i < 2; i++ {
		_, err := c.W.Jobs.Create(ctx, jobs.CreateJob{Name: "[dev] train"})
		require.NoError(t, err)
	}
	_, err := (&SDKEngine{}).Deploy(ctx, c, req)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `2 jobs are named "[dev] train"`)
}

func TestSDKEngineNeedsRootPath(t *testing.T) {
	srv := startEmulator(t)
	c := connect(t, srv)
	_, err := (&SDKEngine{}).Deploy(context.Background(), c, DeployRequest{Target: "dev"})
	assert.ErrorContains(t, err, "no workspace.root_path")
}

// An existing endpoint's AI Gateway settings (its inference table) follow
// the bundle through the service's own call for them, PUT .../ai-gateway;
// what it serves is left alone, and a second deploy changes nothing.
func TestSDKEngineBringsTheEndpointsGatewayToTheBundles(t *testing.T) {
	ctx := context.Background()
	srv := startEmulator(t)
	require.NoError(t, srv.Metastore().CreateCatalog(srv.UserName(), "main"))
	require.NoError(t, srv.Metastore().CreateSchema(srv.UserName(), "main", "ml"))
	c := connect(t, srv)
	req := testRequest(t, srv)
	_, _, err := srv.SeedModelVersion("dev-model")
	require.NoError(t, err)
	_, err = (&SDKEngine{}).Deploy(ctx, c, req)
	require.NoError(t, err)
	_, err = c.W.ServingEndpoints.WaitGetServingEndpointNotUpdating(ctx, "agent-dev", 0, nil)
	require.NoError(t, err)

	req.Resources.Endpoints["ep"].AiGateway = &serving.AiGatewayConfig{InferenceTableConfig: &serving.AiGatewayInferenceTableConfig{
		CatalogName: "main", SchemaName: "ml", TableNamePrefix: "agent", Enabled: true}}
	plan, err := Plan(ctx, c, req)
	require.NoError(t, err)
	assert.Equal(t, ActionUpdate, actions(plan)["endpoint/ep"])
	srv.ResetRequests()
	res, err := (&SDKEngine{}).Deploy(ctx, c, req)
	require.NoError(t, err)
	assert.Equal(t, ActionUpdate, actions(res)["endpoint/ep"])
	assert.Len(t, srv.RequestsFor("serving-endpoints.put-ai-gateway"), 1)
	assert.Empty(t, srv.RequestsFor("serving-endpoints.update-config"))
	ep, err := c.W.ServingEndpoints.GetByName(ctx, "agent-dev")
	require.NoError(t, err)
	require.NotNil(t, ep.AiGateway)
	assert.True(t, ep.AiGateway.InferenceTableConfig.Enabled)
	assert.Equal(t, map[string]int{"dev-model-1": 100}, srv.Traffic("agent-dev"))

	srv.ResetRequests()
	res, err = (&SDKEngine{}).Deploy(ctx, c, req)
	require.NoError(t, err)
	assert.Equal(t, ActionUnchanged, actions(res)["endpoint/ep"])
	assert.Empty(t, srv.RequestsFor("serving-endpoints.put-ai-gateway"))
}
