package jobs

import (
	"fmt"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJobsCRUD(t *testing.T) {
	_, w := start(t, Options{})
	c := ctx(t)
	var ids []int64
	for i := range 5 {
		resp, err := w.Jobs.Create(c, jobs.CreateJob{Name: fmt.Sprintf("job-%d", i), Tasks: []jobs.Task{{TaskKey: "a", NotebookTask: &jobs.NotebookTask{NotebookPath: "/Shared/a"}}}})
		require.NoError(t, err)
		ids = append(ids, resp.JobId)
	}

	job, err := w.Jobs.GetByJobId(c, ids[0])
	require.NoError(t, err)
	assert.Equal(t, "job-0", job.Settings.Name)
	assert.Equal(t, 1, job.Settings.MaxConcurrentRuns, "the service's default")
	require.Len(t, job.Settings.Tasks, 1)

	all, err := w.Jobs.ListAll(c, jobs.ListJobsRequest{Limit: 2})
	require.NoError(t, err)
	assert.Len(t, all, 5, "the SDK follows next_page_token across 3 pages")
	assert.Nil(t, all[0].Settings.Tasks, "tasks only with expand_tasks")

	byName, err := w.Jobs.ListAll(c, jobs.ListJobsRequest{Name: "JOB-3", ExpandTasks: true})
	require.NoError(t, err)
	require.Len(t, byName, 1, "the name filter is exact and case-insensitive")
	assert.Equal(t, ids[3], byName[0].JobId)
	assert.Len(t, byName[0].Settings.Tasks, 1)
	one, err := w.Jobs.GetBySettingsName(c, "job-4")
	require.NoError(t, err)
	assert.Equal(t, ids[4], one.JobId)

	require.NoError(t, w.Jobs.Reset(c, jobs.ResetJob{JobId: ids[0], NewSettings: jobs.JobSettings{Name: "renamed", Tasks: []jobs.Task{{TaskKey: "b", NotebookTask: &jobs.NotebookTask{NotebookPath: "/Shared/b"}}}}}))
	job, err = w.Jobs.GetByJobId(c, ids[0])
	require.NoError(t, err)
	assert.Equal(t, "renamed", job.Settings.Name)
	assert.Equal(t, "b", job.Settings.Tasks[0].TaskKey)

	require.NoError(t, w.Jobs.Update(c, jobs.UpdateJob{JobId: ids[0], NewSettings: &jobs.JobSettings{
		Tags:  map[string]string{"release": "v1"},
		Tasks: []jobs.Task{{TaskKey: "c", NotebookTask: &jobs.NotebookTask{NotebookPath: "/Shared/c"}}, {TaskKey: "b", NotebookTask: &jobs.NotebookTask{NotebookPath: "/Shared/b2"}}},
	}}))
	job, err = w.Jobs.GetByJobId(c, ids[0])
	require.NoError(t, err)
	assert.Equal(t, "renamed", job.Settings.Name, "fields not in new_settings stay")
	assert.Equal(t, "v1", job.Settings.Tags["release"])
	require.Len(t, job.Settings.Tasks, 2, "tasks merge by task_key")
	assert.Equal(t, "/Shared/b2", job.Settings.Tasks[0].NotebookTask.NotebookPath)

	require.NoError(t, w.Jobs.Update(c, jobs.UpdateJob{JobId: ids[0], FieldsToRemove: []string{"tags", "tasks/c"}}))
	job, err = w.Jobs.GetByJobId(c, ids[0])
	require.NoError(t, err)
	assert.Nil(t, job.Settings.Tags)
	assert.Len(t, job.Settings.Tasks, 1)

	require.NoError(t, w.Jobs.DeleteByJobId(c, ids[0]))
	_, err = w.Jobs.GetByJobId(c, ids[0])
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)
	assert.Contains(t, err.Error(), fmt.Sprintf("Job %d does not exist", ids[0]))
}

func TestJobsErrors(t *testing.T) {
	_, w := start(t, Options{})
	c := ctx(t)
	created, err := w.Jobs.Create(c, jobs.CreateJob{Name: "train", Parameters: []jobs.JobParameterDefinition{{Name: "release", Default: "v0.0.0"}}})
	require.NoError(t, err)
	tests := []struct {
		name string
		call func() error
		want error
		msg  string
	}{
		{"duplicate task keys", func() error {
			_, err := w.Jobs.Create(c, jobs.CreateJob{Tasks: []jobs.Task{{TaskKey: "a"}, {TaskKey: "a"}}})
			return err
		}, apierr.ErrInvalidParameterValue, "more than once"},
		{"dependency on a missing task", func() error {
			_, err := w.Jobs.Create(c, jobs.CreateJob{Tasks: []jobs.Task{{TaskKey: "a", DependsOn: []jobs.TaskDependency{{TaskKey: "z"}}}}})
			return err
		}, apierr.ErrInvalidParameterValue, "depends on z"},
		// A missing job is 400 INVALID_PARAMETER_VALUE; the SDK remaps it
		// to not-found for jobs/get and runs/get only (tests/contract).
		{"reset a missing job", func() error { return w.Jobs.Reset(c, jobs.ResetJob{JobId: 1}) }, apierr.ErrInvalidParameterValue, "Job 1 does not exist."},
		{"update a missing job", func() error { return w.Jobs.Update(c, jobs.UpdateJob{JobId: 1}) }, apierr.ErrInvalidParameterValue, "Job 1 does not exist."},
		{"delete a missing job", func() error { return w.Jobs.DeleteByJobId(c, 1) }, apierr.ErrInvalidParameterValue, "Job 1 does not exist."},
		{"run a missing job", func() error {
			_, err := w.Jobs.RunNow(c, jobs.RunNow{JobId: 1})
			return err
		}, apierr.ErrInvalidParameterValue, "Job 1 does not exist."},
		{"undefined job parameter", func() error {
			_, err := w.Jobs.RunNow(c, jobs.RunNow{JobId: created.JobId, JobParameters: map[string]string{"relase": "v1"}})
			return err
		}, apierr.ErrInvalidParameterValue, "relase"},
		{"long idempotency token", func() error {
			_, err := w.Jobs.RunNow(c, jobs.RunNow{JobId: created.JobId, IdempotencyToken: strings.Repeat("x", 65)})
			return err
		}, apierr.ErrInvalidParameterValue, "64"},
		{"missing run", func() error {
			_, err := w.Jobs.GetRun(c, jobs.GetRunRequest{RunId: 5})
			return err
		}, apierr.ErrResourceDoesNotExist, "Run 5"},
		{"list limit", func() error {
			_, err := w.Jobs.ListAll(c, jobs.ListJobsRequest{Limit: 101})
			return err
		}, apierr.ErrInvalidParameterValue, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}
