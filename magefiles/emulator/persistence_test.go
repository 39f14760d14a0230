package emulator

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStateFileSharesTheWorkspace plays two separate mage invocations: the
// first deploys, the second finds everything the first left.
func TestStateFileSharesTheWorkspace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "emulator", "state.json")
	first, err := Start(Options{StateFile: file, LegacyRegistry: true})
	require.NoError(t, err)
	w, err := first.WorkspaceClient()
	require.NoError(t, err)
	c := ctx(t)
	require.NoError(t, w.Workspace.WriteFile(c, "/Shared/release.json", []byte(`{"version":"v1.2.0"}`)))
	created, err := w.Jobs.Create(c, trainJob("agent-train", "agent"))
	require.NoError(t, err)
	_, err = runNowAndWait(c, w, jobs.RunNow{JobId: created.JobId})
	require.NoError(t, err)
	_, err = createEndpointAndWait(c, w, serving.CreateServingEndpoint{Name: "ep", Config: ptrTo(served("ep", "agent", []string{"1"}, nil))})
	require.NoError(t, err)
	for range 3 {
		_, err = query(t, w, "ep", map[string]any{"message": "hi"})
		require.NoError(t, err)
	}
	first.ScriptNextRun("agent-train", RunOutcome{Result: jobs.RunResultStateFailed, Message: "scripted in the first process"})
	first.SetVersionBehavior("agent", "1", Behavior{ClientErrorRate: 1})

	// The file is complete JSON while the server runs.
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.True(t, json.Valid(raw))
	require.NoError(t, first.Close())
	require.NoError(t, first.SaveError())

	second, w2 := start(t, Options{StateFile: file})
	assert.NotEqual(t, first.Token(), second.Token(), "tokens are not persisted")
	got, err := w2.Workspace.ReadFile(c, "/Shared/release.json")
	require.NoError(t, err)
	assert.JSONEq(t, `{"version":"v1.2.0"}`, string(got))
	job, err := w2.Jobs.GetBySettingsName(c, "agent-train")
	require.NoError(t, err)
	mv, err := w2.ModelRegistry.GetModelVersion(c, ml.GetModelVersionRequest{Name: "agent", Version: "1"})
	require.NoError(t, err)
	assert.Equal(t, ml.ModelVersionStatusReady, mv.ModelVersion.Status)
	assert.Equal(t, map[string]int{"agent-1": 100}, second.Traffic("ep"))
	assert.Equal(t, int64(3), second.EntityStats("ep")["agent-1"].Requests, "metrics are cumulative across processes")

	_, err = query(t, w2, "ep", map[string]any{"message": "hi"})
	require.ErrorIs(t, err, apierr.ErrBadRequest, "the behaviour survived")
	run, err := runNowAndWait(c, w2, jobs.RunNow{JobId: job.JobId})
	require.NoError(t, err)
	assert.Equal(t, jobs.RunResultStateFailed, run.State.ResultState, "the script survived")
	created2, err := w2.Jobs.Create(c, jobs.CreateJob{Name: "another"})
	require.NoError(t, err)
	assert.Greater(t, created2.JobId, created.JobId, "ids keep counting")
}

func TestStateFileErrors(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.json")
	require.NoError(t, os.WriteFile(corrupt, []byte("{not json"), 0o600))
	_, err := Start(Options{StateFile: corrupt})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "delete the file")

	old := filepath.Join(dir, "old.json")
	require.NoError(t, os.WriteFile(old, []byte(`{"version": 0}`), 0o600))
	_, err = Start(Options{StateFile: old})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "layout version 0")

	blocked := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(blocked, nil, 0o600))
	_, err = Start(Options{StateFile: filepath.Join(blocked, "state.json")})
	require.Error(t, err, "a state file under a regular file cannot be written")
}

// A state file keeps its layout: the workspace files under
// "workspace_objects", one "next_id" for every service's ids.
func TestStateFileLayout(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	written := `{
 "version": 1,
 "next_id": 2000,
 "workspace_objects": {
  "/Shared/release.json": {"path": "/Shared/release.json", "type": "FILE", "content": "eyJ2ZXJzaW9uIjoidjEifQ==", "id": 1999, "created": 1, "modified": 2}
 }
}`
	require.NoError(t, os.WriteFile(file, []byte(written), 0o600))
	srv, w := start(t, Options{StateFile: file})
	c := ctx(t)

	got, err := w.Workspace.ReadFile(c, "/Shared/release.json")
	require.NoError(t, err)
	assert.JSONEq(t, `{"version":"v1"}`, string(got))
	home, err := w.Workspace.GetStatusByPath(c, "/Users/"+srv.UserName())
	require.NoError(t, err)
	assert.Equal(t, int64(2003), home.ObjectId, "missing folders (/, /Users, the home folder) are seeded after the saved ids")
	created, err := w.Jobs.Create(c, jobs.CreateJob{Name: "another"})
	require.NoError(t, err)
	assert.Equal(t, int64(2005), created.JobId, "ids keep counting across services")

	require.NoError(t, srv.Close())
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	var saved struct {
		NextID  int64                      `json:"next_id"`
		Objects map[string]json.RawMessage `json:"workspace_objects"`
	}
	require.NoError(t, json.Unmarshal(raw, &saved))
	assert.Equal(t, int64(2005), saved.NextID)
	assert.Contains(t, saved.Objects, "/Shared/release.json")
	assert.Contains(t, saved.Objects, "/Users/"+srv.UserName())
}

// The MLflow tracking store keeps its keys in the state file: experiments
// under "experiments", runs with their artifacts under "mlflow_runs".
func TestStateFileKeepsMLflowRuns(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	written := `{
 "version": 1,
 "next_id": 1001,
 "experiments": {
  "1001": {"experiment_id": "1001", "name": "/Shared/agent", "lifecycle_stage": "active", "artifact_location": "dbfs:/databricks/mlflow-tracking/1001"}
 },
 "mlflow_runs": {
  "abc": {
   "run": {
    "info": {"run_id": "abc", "run_uuid": "abc", "experiment_id": "1001", "status": "FINISHED", "lifecycle_stage": "active", "artifact_uri": "dbfs:/databricks/mlflow-tracking/1001/abc/artifacts"},
    "data": {"tags": [{"key": "release", "value": "v1"}]}
   },
   "artifacts": {"agent/MLmodel": 612}
  }
 }
}`
	require.NoError(t, os.WriteFile(file, []byte(written), 0o600))
	srv, w := start(t, Options{StateFile: file})
	c := ctx(t)

	run, err := w.Experiments.GetRun(c, ml.GetRunRequest{RunId: "abc"})
	require.NoError(t, err)
	assert.Equal(t, "v1", run.Run.Data.Tags[0].Value)
	exp, err := w.Experiments.GetByName(c, ml.GetByNameRequest{ExperimentName: "/Shared/agent"})
	require.NoError(t, err)
	assert.Equal(t, "1001", exp.Experiment.ExperimentId)
	_, err = w.ModelRegistry.CreateModel(c, ml.CreateModelRequest{Name: "agent"})
	require.NoError(t, err)
	_, err = w.ModelRegistry.CreateModelVersion(c, ml.CreateModelVersionRequest{Name: "agent", Source: "runs:/abc/agent"})
	require.NoError(t, err)
	mv, err := w.ModelRegistry.GetModelVersion(c, ml.GetModelVersionRequest{Name: "agent", Version: "1"})
	require.NoError(t, err)
	assert.Equal(t, ml.ModelVersionStatusReady, mv.ModelVersion.Status, "the saved run logged the model")

	require.NoError(t, srv.Close())
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	var saved struct {
		Experiments map[string]json.RawMessage `json:"experiments"`
		Runs        map[string]struct {
			Artifacts map[string]int64 `json:"artifacts"`
		} `json:"mlflow_runs"`
	}
	require.NoError(t, json.Unmarshal(raw, &saved))
	assert.Contains(t, saved.Experiments, "1001")
	assert.Equal(t, map[string]int64{"agent/MLmodel": 612}, saved.Runs["abc"].Artifacts)
}
