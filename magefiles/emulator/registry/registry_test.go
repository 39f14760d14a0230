package registry

import (
	"fmt"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/jobs"
)

func TestRegisteredModels(t *testing.T) {
	_, w := start(t, Options{})
	c := ctx(t)
	for _, name := range []string{"agent", "agent-shadow", "other"} {
		_, err := w.ModelRegistry.CreateModel(c, ml.CreateModelRequest{Name: name, Tags: []ml.ModelTag{{Key: "team", Value: "ml"}}})
		require.NoError(t, err)
	}
	_, err := w.ModelRegistry.CreateModel(c, ml.CreateModelRequest{Name: "agent"})
	require.ErrorIs(t, err, apierr.ErrResourceAlreadyExists)

	got, err := w.ModelRegistry.GetModel(c, ml.GetModelRequest{Name: "agent"})
	require.NoError(t, err)
	assert.Equal(t, "agent", got.RegisteredModelDatabricks.Name)
	assert.NotEmpty(t, got.RegisteredModelDatabricks.Id)
	_, err = w.ModelRegistry.GetModel(c, ml.GetModelRequest{Name: "missing"})
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)

	tests := []struct {
		filter string
		want   []string
	}{
		{"name='agent'", []string{"agent"}},
		{"name LIKE 'agent%'", []string{"agent", "agent-shadow"}},
		{"name ILIKE '%SHADOW'", []string{"agent-shadow"}},
		{"tags.team = 'ml'", []string{"agent", "agent-shadow", "other"}},
		{"", []string{"agent", "agent-shadow", "other"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			models, err := w.ModelRegistry.SearchModelsAll(c, ml.SearchModelsRequest{Filter: tt.filter, MaxResults: 1})
			require.NoError(t, err)
			var names []string
			for _, m := range models {
				names = append(names, m.Name)
			}
			assert.Equal(t, tt.want, names)
		})
	}
	_, err = w.ModelRegistry.SearchModelsAll(c, ml.SearchModelsRequest{Filter: "owner = 'x'"})
	require.ErrorIs(t, err, apierr.ErrInvalidParameterValue)
	listed, err := w.ModelRegistry.ListModelsAll(c, ml.ListModelsRequest{MaxResults: 2})
	require.NoError(t, err)
	assert.Len(t, listed, 3)

	require.NoError(t, w.ModelRegistry.SetModelTag(c, ml.SetModelTagRequest{Name: "agent", Key: "stable", Value: "3"}))
	require.NoError(t, w.ModelRegistry.SetModelTag(c, ml.SetModelTagRequest{Name: "agent", Key: "stable", Value: "4"}))
	got, err = w.ModelRegistry.GetModel(c, ml.GetModelRequest{Name: "agent"})
	require.NoError(t, err)
	tags := map[string]string{}
	for _, tag := range got.RegisteredModelDatabricks.Tags {
		tags[tag.Key] = tag.Value
	}
	assert.Equal(t, map[string]string{"team": "ml", "stable": "4"}, tags, "set-tag replaces a tag")
	require.NoError(t, w.ModelRegistry.DeleteModelTag(c, ml.DeleteModelTagRequest{Name: "agent", Key: "stable"}))
	require.ErrorIs(t, w.ModelRegistry.DeleteModelTag(c, ml.DeleteModelTagRequest{Name: "agent", Key: "stable"}), apierr.ErrResourceDoesNotExist)
	upd, err := w.ModelRegistry.UpdateModel(c, ml.UpdateModelRequest{Name: "agent", Description: "the interrupt agent"})
	require.NoError(t, err)
	assert.Equal(t, "the interrupt agent", upd.RegisteredModel.Description)
	require.NoError(t, w.ModelRegistry.DeleteModel(c, ml.DeleteModelRequest{Name: "other"}))
	require.ErrorIs(t, w.ModelRegistry.DeleteModel(c, ml.DeleteModelRequest{Name: "other"}), apierr.ErrResourceDoesNotExist)
}

func TestModelVersionRegistration(t *testing.T) {
	clock := core.NewManualClock(time.Unix(1_700_000_000, 0))
	srv, w := start(t, Options{Clock: clock, Scale: 1})
	c := ctx(t)
	_, err := w.ModelRegistry.CreateModel(c, ml.CreateModelRequest{Name: "agent"})
	require.NoError(t, err)
	runID := loggedRun(t, srv)

	created, err := w.ModelRegistry.CreateModelVersion(c, ml.CreateModelVersionRequest{
		Name: "agent", Source: "runs:/" + runID + "/" + jobs.ModelArtifactPath,
		Tags: []ml.ModelVersionTag{{Key: "release", Value: "v1.2.0"}},
	})
	require.NoError(t, err)
	assert.Equal(t, ml.ModelVersionStatusPendingRegistration, created.ModelVersion.Status)
	assert.Equal(t, runID, created.ModelVersion.RunId, "run_id comes from a runs:/ source")

	get := func(version string) ml.ModelVersion {
		mv, err := w.ModelRegistry.GetModelVersion(c, ml.GetModelVersionRequest{Name: "agent", Version: version})
		require.NoError(t, err)
		return *mv.ModelVersion
	}
	clock.Advance(DefaultRegistration - time.Second)
	assert.Equal(t, ml.ModelVersionStatusPendingRegistration, get("1").Status)
	clock.Advance(time.Second)
	assert.Equal(t, ml.ModelVersionStatusReady, get("1").Status)

	// A source without a model and a scripted failure both end FAILED_REGISTRATION.
	bare := srv.runs.StartRun("/Shared/test", "empty", srv.now(), nil)
	_, err = w.ModelRegistry.CreateModelVersion(c, ml.CreateModelVersionRequest{Name: "agent", Source: "runs:/" + bare + "/agent"})
	require.NoError(t, err)
	srv.FailNextRegistration("agent", "checksum mismatch")
	_, err = w.ModelRegistry.CreateModelVersion(c, ml.CreateModelVersionRequest{Name: "agent", Source: "runs:/" + runID + "/agent"})
	require.NoError(t, err)
	clock.Advance(DefaultRegistration)
	assert.Equal(t, ml.ModelVersionStatusFailedRegistration, get("2").Status)
	assert.Contains(t, get("2").StatusMessage, "no artifacts")
	assert.Equal(t, ml.ModelVersionStatusFailedRegistration, get("3").Status)
	assert.Equal(t, "checksum mismatch", get("3").StatusMessage)

	tests := []struct {
		name string
		req  ml.CreateModelVersionRequest
		want error
	}{
		{"missing model", ml.CreateModelVersionRequest{Name: "nope", Source: "runs:/" + runID + "/agent"}, apierr.ErrResourceDoesNotExist},
		{"missing run", ml.CreateModelVersionRequest{Name: "agent", Source: "runs:/0123/agent"}, apierr.ErrResourceDoesNotExist},
		{"missing run id", ml.CreateModelVersionRequest{Name: "agent", Source: "dbfs:/x", RunId: "0123"}, apierr.ErrResourceDoesNotExist},
		{"no source", ml.CreateModelVersionRequest{Name: "agent"}, apierr.ErrInvalidParameterValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.ModelRegistry.CreateModelVersion(c, tt.req)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestModelVersionSearchTagsAndStages(t *testing.T) {
	srv, w := start(t, Options{})
	c := ctx(t)
	versions := seed(t, srv, "agent", 5)
	require.Equal(t, []string{"1", "2", "3", "4", "5"}, versions)
	seed(t, srv, "other", 1)
	mv3, _ := srv.ModelVersion("agent", "3")

	tests := []struct {
		name    string
		req     ml.SearchModelVersionsRequest
		want    []string
		wantErr bool
	}{
		{"by name, newest first, across pages", ml.SearchModelVersionsRequest{Filter: "name='agent'", MaxResults: 2}, []string{"agent/5", "agent/4", "agent/3", "agent/2", "agent/1"}, false},
		{"by run id", ml.SearchModelVersionsRequest{Filter: fmt.Sprintf("run_id='%s'", mv3.RunId)}, []string{"agent/3"}, false},
		{"name and run id", ml.SearchModelVersionsRequest{Filter: fmt.Sprintf(`name="agent" AND run_id = '%s'`, mv3.RunId)}, []string{"agent/3"}, false},
		{"run id in a list", ml.SearchModelVersionsRequest{Filter: fmt.Sprintf("run_id IN ('%s', 'x')", mv3.RunId)}, []string{"agent/3"}, false},
		{"ordered", ml.SearchModelVersionsRequest{Filter: "name='agent'", OrderBy: []string{"version_number ASC"}, MaxResults: 3}, []string{"agent/1", "agent/2", "agent/3", "agent/4", "agent/5"}, false},
		{"everything", ml.SearchModelVersionsRequest{}, []string{"agent/5", "agent/4", "agent/3", "agent/2", "agent/1", "other/1"}, false},
		{"unknown key", ml.SearchModelVersionsRequest{Filter: "colour='red'"}, nil, true},
		{"malformed", ml.SearchModelVersionsRequest{Filter: "name='agent"}, nil, true},
		{"bad order", ml.SearchModelVersionsRequest{OrderBy: []string{"size DESC"}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := w.ModelRegistry.SearchModelVersionsAll(c, tt.req)
			if tt.wantErr {
				require.ErrorIs(t, err, apierr.ErrInvalidParameterValue)
				return
			}
			require.NoError(t, err)
			var ids []string
			for _, v := range got {
				ids = append(ids, v.Name+"/"+v.Version)
			}
			assert.Equal(t, tt.want, ids)
		})
	}

	require.NoError(t, w.ModelRegistry.SetModelVersionTag(c, ml.SetModelVersionTagRequest{Name: "agent", Version: "3", Key: "release", Value: "v1.2.0"}))
	got, err := w.ModelRegistry.SearchModelVersionsAll(c, ml.SearchModelVersionsRequest{Filter: "tags.release = 'v1.2.0'"})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "3", got[0].Version)
	require.NoError(t, w.ModelRegistry.DeleteModelVersionTag(c, ml.DeleteModelVersionTagRequest{Name: "agent", Version: "3", Key: "release"}))
	require.ErrorIs(t, w.ModelRegistry.DeleteModelVersionTag(c, ml.DeleteModelVersionTagRequest{Name: "agent", Version: "3", Key: "release"}), apierr.ErrResourceDoesNotExist)

	upd, err := w.ModelRegistry.UpdateModelVersion(c, ml.UpdateModelVersionRequest{Name: "agent", Version: "3", Description: "canary"})
	require.NoError(t, err)
	assert.Equal(t, "canary", upd.ModelVersion.Description)

	tr, err := w.ModelRegistry.TransitionStage(c, ml.TransitionModelVersionStageDatabricks{Name: "agent", Version: "2", Stage: "production"})
	require.NoError(t, err)
	assert.Equal(t, "Production", tr.ModelVersionDatabricks.CurrentStage)
	_, err = w.ModelRegistry.TransitionStage(c, ml.TransitionModelVersionStageDatabricks{Name: "agent", Version: "3", Stage: "Production", ArchiveExistingVersions: true})
	require.NoError(t, err)
	v2, _ := srv.ModelVersion("agent", "2")
	assert.Equal(t, "Archived", v2.CurrentStage)
	_, err = w.ModelRegistry.TransitionStage(c, ml.TransitionModelVersionStageDatabricks{Name: "agent", Version: "3", Stage: "Live"})
	require.ErrorIs(t, err, apierr.ErrInvalidParameterValue)

	latest, err := w.ModelRegistry.GetLatestVersionsAll(c, ml.GetLatestVersionsRequest{Name: "agent", Stages: []string{"Production"}})
	require.NoError(t, err)
	require.Len(t, latest, 1)
	assert.Equal(t, "3", latest[0].Version)
	model, err := w.ModelRegistry.GetModel(c, ml.GetModelRequest{Name: "agent"})
	require.NoError(t, err)
	assert.Len(t, model.RegisteredModelDatabricks.LatestVersions, 3, "latest of None, Production and Archived")

	uri, err := w.ModelRegistry.GetModelVersionDownloadUri(c, ml.GetModelVersionDownloadUriRequest{Name: "agent", Version: "3"})
	require.NoError(t, err)
	assert.Equal(t, "runs:/"+mv3.RunId+"/agent", uri.ArtifactUri)

	require.NoError(t, w.ModelRegistry.DeleteModelVersion(c, ml.DeleteModelVersionRequest{Name: "agent", Version: "1"}))
	_, err = w.ModelRegistry.GetModelVersion(c, ml.GetModelVersionRequest{Name: "agent", Version: "1"})
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)
}
