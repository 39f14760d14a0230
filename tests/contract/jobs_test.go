package contract

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// notebookJob is a one-task job that is not the training entry point.
func notebookJob(name string, queue *jobs.QueueSettings) jobs.CreateJob {
	return jobs.CreateJob{Name: name, MaxConcurrentRuns: 1, Queue: queue,
		Tasks: []jobs.Task{{TaskKey: "report", NotebookTask: &jobs.NotebookTask{NotebookPath: "/Shared/report"}}}}
}

// A missing job or run is 400 INVALID_PARAMETER_VALUE "Job <id> does not
// exist." / "Run <id> does not exist." on every jobs call. The SDK remaps it
// to ErrResourceDoesNotExist for jobs/get and runs/get only:
// databricks-sdk-go apierr/error_overrides.go ("Jobs
// InvalidParameterValue=>ResourceDoesNotExist" on ^/api/2.x/jobs/get and
// "Job Runs ..." on ^/api/2.x/jobs/runs/get, both matching status 400,
// INVALID_PARAMETER_VALUE and the message). Other calls surface the
// invalid-parameter error.
func TestMissingJobsAndRuns(t *testing.T) {
	ws := start(t, emulator.Options{})
	c := testCtx(t)
	for _, tc := range []struct {
		name     string
		call     func() error
		msg      string
		notFound bool
	}{
		{"jobs/get", func() error { _, err := ws.w.Jobs.GetByJobId(c, 404); return err }, "Job 404 does not exist.", true},
		{"runs/get", func() error { _, err := ws.w.Jobs.GetRun(c, jobs.GetRunRequest{RunId: 405}); return err }, "Run 405 does not exist.", true},
		{"jobs/reset", func() error {
			return ws.w.Jobs.Reset(c, jobs.ResetJob{JobId: 404, NewSettings: jobs.JobSettings{Name: "x"}})
		}, "Job 404 does not exist.", false},
		{"jobs/delete", func() error { return ws.w.Jobs.DeleteByJobId(c, 404) }, "Job 404 does not exist.", false},
		{"jobs/run-now", func() error { _, err := ws.w.Jobs.RunNow(c, jobs.RunNow{JobId: 404}); return err }, "Job 404 does not exist.", false},
		{"runs/cancel", func() error { _, err := ws.w.Jobs.CancelRun(c, jobs.CancelRun{RunId: 405}); return err }, "Run 405 does not exist.", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			ae := apiError(t, err)
			assert.Equal(t, http.StatusBadRequest, ae.StatusCode)
			assert.Equal(t, "INVALID_PARAMETER_VALUE", ae.ErrorCode)
			assert.Equal(t, tc.msg, ae.Message)
			assert.Equal(t, tc.notFound, apierr.IsMissing(err), "remapped to not-found")
			if !tc.notFound {
				assert.ErrorIs(t, err, apierr.ErrInvalidParameterValue)
			}
		})
	}
}

// "For jobs created with the Jobs API 2.2, queueing is enabled by default"
// (Jobs API 2.2 documentation, "Updating from Jobs API 2.1 to 2.2"): a run
// over max_concurrent_runs is QUEUED, then runs when the active run ends.
// Its queue code is MAX_CONCURRENT_RUNS_REACHED ("The run was queued due to
// reaching the per-job limit of concurrent job runs", databricks-sdk-go
// service/jobs/model.go, QueueDetailsCodeCode; ACTIVE_RUNS_LIMIT_REACHED is
// the workspace's limit). With queue.enabled false it is SKIPPED with
// termination code MAX_CONCURRENT_RUNS_EXCEEDED ("The scheduled run exceeds
// the limit of maximum concurrent runs set for the job", TerminationCodeCode
// there). No public source quotes either state message; the emulator's are
// its own, and the flows read only the codes.
func TestRunsQueueByDefault(t *testing.T) {
	clock := emulator.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ws := start(t, emulator.Options{Clock: clock, TimeScale: 1})
	c := testCtx(t)

	queued, err := ws.w.Jobs.Create(c, notebookJob("queues", nil))
	require.NoError(t, err)
	_, err = ws.w.Jobs.RunNow(c, jobs.RunNow{JobId: queued.JobId})
	require.NoError(t, err)
	second, err := ws.w.Jobs.RunNow(c, jobs.RunNow{JobId: queued.JobId})
	require.NoError(t, err)
	run, err := ws.w.Jobs.GetRun(c, jobs.GetRunRequest{RunId: second.Response.RunId})
	require.NoError(t, err)
	assert.Equal(t, jobs.RunLifeCycleStateQueued, run.State.LifeCycleState)
	require.NotNil(t, run.Status)
	require.NotNil(t, run.Status.QueueDetails)
	assert.Equal(t, jobs.QueueDetailsCodeCodeMaxConcurrentRunsReached, run.Status.QueueDetails.Code)

	clock.Advance(emulator.DefaultDurations.RunPending + emulator.DefaultDurations.RunDuration)
	run, err = ws.w.Jobs.GetRun(c, jobs.GetRunRequest{RunId: second.Response.RunId})
	require.NoError(t, err)
	assert.NotEqual(t, jobs.RunLifeCycleStateQueued, run.State.LifeCycleState, "it starts when the active run ends")

	skips, err := ws.w.Jobs.Create(c, notebookJob("skips", &jobs.QueueSettings{Enabled: false}))
	require.NoError(t, err)
	_, err = ws.w.Jobs.RunNow(c, jobs.RunNow{JobId: skips.JobId})
	require.NoError(t, err)
	over, err := ws.w.Jobs.RunNow(c, jobs.RunNow{JobId: skips.JobId})
	require.NoError(t, err)
	run, err = ws.w.Jobs.GetRun(c, jobs.GetRunRequest{RunId: over.Response.RunId})
	require.NoError(t, err)
	assert.Equal(t, jobs.RunLifeCycleStateSkipped, run.State.LifeCycleState)
	require.NotNil(t, run.Status)
	require.NotNil(t, run.Status.TerminationDetails)
	assert.Equal(t, jobs.TerminationCodeCodeMaxConcurrentRunsExceeded, run.Status.TerminationDetails.Code)
}

// run_page_url is <host>/jobs/<job id>/runs/<run id>?o=<workspace id>, as
// runs against real workspaces print it (databricks/cli acceptance outputs,
// e.g. acceptance/bundle/integration_whl/wrapper_custom_params/output.txt:
// "Run URL: [DATABRICKS_URL]/jobs/[NUMID]/runs/[NUMID]?o=[NUMID]"). runs/list
// answers 20 runs per page when no limit is given ("The default value is
// 20", databricks-sdk-go service/jobs/model.go, ListRunsRequest.Limit).
func TestRunPageURLAndRunsPage(t *testing.T) {
	ws := start(t, emulator.Options{WorkspaceID: 1234567890123456})
	c := testCtx(t)
	job, err := ws.w.Jobs.Create(c, jobs.CreateJob{Name: "many", MaxConcurrentRuns: 100,
		Tasks: []jobs.Task{{TaskKey: "report", NotebookTask: &jobs.NotebookTask{NotebookPath: "/Shared/report"}}}})
	require.NoError(t, err)
	var last int64
	for range 25 {
		r, err := ws.w.Jobs.RunNow(c, jobs.RunNow{JobId: job.JobId})
		require.NoError(t, err)
		last = r.Response.RunId
	}
	run, err := ws.w.Jobs.GetRun(c, jobs.GetRunRequest{RunId: last})
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("%s/jobs/%d/runs/%d?o=1234567890123456", ws.srv.URL(), job.JobId, last), run.RunPageUrl)

	// One page, as the SDK's iterator would request it (no limit).
	status, data, _ := ws.raw(t, http.MethodGet, fmt.Sprintf("/api/2.2/jobs/runs/list?job_id=%d", job.JobId), nil)
	require.Equal(t, http.StatusOK, status)
	var page jobs.ListRunsResponse
	require.NoError(t, json.Unmarshal(data, &page))
	assert.Len(t, page.Runs, 20)
	assert.True(t, page.HasMore)
	assert.NotEmpty(t, page.NextPageToken)
}
