package tracking

import (
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

func TestExperimentsAndRuns(t *testing.T) {
	w := serve(t, New(Options{User: user}))
	c := ctx(t)
	exp, err := w.Experiments.CreateExperiment(c, ml.CreateExperiment{Name: "/Shared/exp"})
	require.NoError(t, err)
	_, err = w.Experiments.CreateExperiment(c, ml.CreateExperiment{Name: "/Shared/exp"})
	require.ErrorIs(t, err, apierr.ErrResourceAlreadyExists)
	got, err := w.Experiments.GetExperiment(c, ml.GetExperimentRequest{ExperimentId: exp.ExperimentId})
	require.NoError(t, err)
	assert.Equal(t, "/Shared/exp", got.Experiment.Name)
	_, err = w.Experiments.GetExperiment(c, ml.GetExperimentRequest{ExperimentId: "42"})
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)

	run, err := w.Experiments.CreateRun(c, ml.CreateRun{ExperimentId: exp.ExperimentId, RunName: "manual"})
	require.NoError(t, err)
	id := run.Run.Info.RunId
	require.NoError(t, w.Experiments.SetTag(c, ml.SetTag{RunId: id, Key: "release", Value: "v1"}))
	upd, err := w.Experiments.UpdateRun(c, ml.UpdateRun{RunId: id, Status: ml.UpdateRunStatusFinished, EndTime: 5})
	require.NoError(t, err)
	assert.Equal(t, ml.RunInfoStatusFinished, upd.RunInfo.Status)
	found, err := w.Experiments.SearchRunsAll(c, ml.SearchRuns{ExperimentIds: []string{exp.ExperimentId}, Filter: "tags.release = 'v1' AND attributes.status = 'FINISHED'"})
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, id, found[0].Info.RunId)
	_, err = w.Experiments.SearchRunsAll(c, ml.SearchRuns{Filter: "weird.key = 1"})
	require.ErrorIs(t, err, apierr.ErrInvalidParameterValue)
	_, err = w.Experiments.GetRun(c, ml.GetRunRequest{RunId: "nope"})
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)
}

// What the training task logs through the store's API is what the REST
// routes show: the run, its batch, the model's files and its end.
func TestTrainingLogsThroughTheAPI(t *testing.T) {
	store := New(Options{User: user})
	w := serve(t, store)
	c := ctx(t)
	start := time.UnixMilli(1_000)
	id := store.StartRun("/Shared/agent", "train-v1", start, []ml.RunTag{{Key: "mlflow.source.type", Value: "JOB"}})
	require.NoError(t, store.LogBatch(ml.LogBatch{
		RunId: id, Tags: []ml.RunTag{{Key: "release", Value: "v1"}},
		Params: []ml.Param{{Key: "threshold", Value: "0.5"}}, Metrics: []ml.Metric{{Key: "accuracy", Value: 1}},
	}))
	require.NoError(t, store.LogModel(id, "agent"))
	store.EndRun(id, ml.RunInfoStatusFinished, start.Add(time.Minute))
	store.EndRun(id, ml.RunInfoStatusKilled, start.Add(time.Hour)) // an ended run stays as it ended

	got, err := w.Experiments.GetRun(c, ml.GetRunRequest{RunId: id})
	require.NoError(t, err)
	assert.Equal(t, "train-v1", got.Run.Info.RunName)
	assert.Equal(t, ml.RunInfoStatusFinished, got.Run.Info.Status)
	assert.Equal(t, int64(61_000), got.Run.Info.EndTime)
	tags := map[string]string{}
	for _, tag := range got.Run.Data.Tags {
		tags[tag.Key] = tag.Value
	}
	assert.Equal(t, map[string]string{"mlflow.runName": "train-v1", "mlflow.user": user, "mlflow.source.type": "JOB", "release": "v1"}, tags)
	require.Len(t, got.Run.Data.Params, 1)
	assert.Equal(t, "0.5", got.Run.Data.Params[0].Value)

	files, err := w.Experiments.ListArtifactsAll(c, ml.ListArtifactsRequest{RunId: id})
	require.NoError(t, err)
	require.Len(t, files, 1)
	assert.Equal(t, "agent", files[0].Path)
	assert.True(t, files[0].IsDir)

	tests := []struct {
		name, run, dir string
		want           bool
	}{
		{"the model's folder", id, "agent", true},
		{"a file of it", id, "agent/MLmodel", true},
		{"anything", id, "", true},
		{"another folder", id, "other", false},
		{"a missing run", "nope", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, store.HasArtifacts(tt.run, tt.dir))
		})
	}
	assert.True(t, store.RunExists(id))
	assert.False(t, store.RunExists("nope"))
	assert.Error(t, store.LogBatch(ml.LogBatch{RunId: "nope"}))
	assert.Error(t, store.LogModel("nope", "agent"))
}

// Ids come from the options: experiment ids from the shared sequence, run
// ids from the shared generator, in the order asked for.
func TestIDsComeFromTheWorkspace(t *testing.T) {
	ids, random := core.NewSequence(41), core.NewRandom(7)
	store := New(Options{User: user, IDs: ids, Random: random})
	first := store.StartRun("/Shared/a", "r", time.Now(), nil)
	want := core.NewRandom(7)
	assert.Equal(t, want.UUID(), first)
	assert.Equal(t, int64(43), ids.Next(), "the experiment took 42")
	random.Uint64() // another service draws
	want.Uint64()
	assert.Equal(t, want.UUID(), store.StartRun("/Shared/a", "r", time.Now(), nil))
}

// A snapshot restores the same store, and is a copy: later changes do not
// reach it.
func TestSnapshotRestores(t *testing.T) {
	store := New(Options{User: user})
	id := store.StartRun("/Shared/a", "r", time.UnixMilli(5), nil)
	require.NoError(t, store.LogModel(id, "agent"))
	experiments, runs := store.Snapshot()
	require.NoError(t, store.LogBatch(ml.LogBatch{RunId: id, Tags: []ml.RunTag{{Key: "later", Value: "x"}}}))
	assert.NotContains(t, runs[id].Run.Data.Tags, ml.RunTag{Key: "later", Value: "x"})

	restored := New(Options{User: user, Experiments: experiments, Runs: runs})
	run, ok := restored.Run(id)
	require.True(t, ok)
	assert.Equal(t, int64(5), run.Info.StartTime)
	assert.True(t, restored.HasArtifacts(id, "agent"))
	w := serve(t, restored)
	exp, err := w.Experiments.GetByName(ctx(t), ml.GetByNameRequest{ExperimentName: "/Shared/a"})
	require.NoError(t, err)
	assert.Equal(t, run.Info.ExperimentId, exp.Experiment.ExperimentId)
}
