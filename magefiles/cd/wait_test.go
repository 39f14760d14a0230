package cd

import (
	"testing"

	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/stretchr/testify/assert"
)

// A run over the job's concurrency limit is QUEUED with queue_details (Jobs
// API 2.2 queues by default; see tests/contract); the wait says why from the
// code, never from the message, which the SDK calls unstructured.
func queued(code jobs.QueueDetailsCodeCode) *jobs.Run {
	return &jobs.Run{
		State:  &jobs.RunState{LifeCycleState: jobs.RunLifeCycleStateQueued, StateMessage: "state message"},
		Status: &jobs.RunStatus{QueueDetails: &jobs.QueueDetails{Code: code, Message: "a message that may change"}},
	}
}

func TestRunState(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  *jobs.Run
		want string
	}{
		{"no state", &jobs.Run{}, ""},
		{"running", &jobs.Run{State: &jobs.RunState{LifeCycleState: jobs.RunLifeCycleStateRunning}}, "RUNNING"},
		{"ended", &jobs.Run{State: &jobs.RunState{LifeCycleState: jobs.RunLifeCycleStateTerminated, ResultState: jobs.RunResultStateSuccess}}, "TERMINATED SUCCESS"},
		{"queued behind the job's own runs", queued(jobs.QueueDetailsCodeCodeMaxConcurrentRunsReached), "QUEUED (waiting for the job's other runs to end: its max_concurrent_runs is reached)"},
		{"queued by the workspace's limit", queued(jobs.QueueDetailsCodeCodeActiveRunsLimitReached), "QUEUED (waiting for the workspace's limit of active task runs)"},
		{"queued, unknown code", queued("SOME_NEW_REASON"), "QUEUED (SOME_NEW_REASON)"},
		{"queued, state message only", &jobs.Run{State: &jobs.RunState{LifeCycleState: jobs.RunLifeCycleStateQueued, StateMessage: "In queue"}}, "QUEUED (In queue)"},
		{"queued, nothing said", &jobs.Run{State: &jobs.RunState{LifeCycleState: jobs.RunLifeCycleStateQueued}}, "QUEUED (waiting for the job's other runs to end)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, RunState(tc.run))
		})
	}
	assert.Equal(t, "", RunState(nil))
}
