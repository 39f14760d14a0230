package e2e

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// The training job allows one run at a time, and Jobs API 2.2 queues a run
// over that limit (tests/contract, TestRunsQueueByDefault). A release whose
// training run waits behind another run waits through QUEUED, says why,
// and goes on when the other run ends.
//
// Service time is a manual clock that a helper moves on; it stands still
// from the other run's start until the deploy has reported its run QUEUED,
// so the other run cannot end first however slow the machine.
func TestTrainingWaitsWhileQueued(t *testing.T) {
	t.Parallel()
	clock := emulator.NewManualClock(time.Now())
	w := newWorld(t, func(o *emulator.Options) { o.Clock, o.TimeScale = clock, 1 })
	var paused atomic.Bool
	var waiting atomic.Pointer[func() bool]
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if paused.Load() {
				if f := waiting.Load(); f == nil || !(*f)() {
					continue
				}
				paused.Store(false)
			}
			clock.Advance(time.Minute)
		}
	}()

	w.repo.Tag("v1.0.0")
	w.release(cd.EnvDev)
	w.repo.Commit("next")
	w.repo.Tag("v1.1.0")

	// Someone else's run of the training job, running for an hour.
	paused.Store(true)
	job, ok := w.srv.Job(w.config(cd.EnvDev).TrainingJob)
	require.True(t, ok)
	w.srv.ScriptNextRun(job.Settings.Name, emulator.RunOutcome{Result: jobs.RunResultStateSuccess, Duration: time.Hour})
	_, err := w.w.Jobs.RunNow(w.ctx, jobs.RunNow{JobId: job.JobId})
	require.NoError(t, err)

	r := w.run(cd.EnvDev)
	seen := func() bool { return strings.Contains(r.Output(), "QUEUED (") }
	waiting.Store(&seen)
	require.NoError(t, cd.Deploy(w.ctx, r.Opts), r.Output())
	assert.Contains(t, r.Output(), "QUEUED (waiting for the job's other runs to end: its max_concurrent_runs is reached)")
	// The other run registered a version too; the release serves its own.
	rec := w.latest(cd.EnvDev)
	require.NotNil(t, rec.Model)
	assert.Equal(t, "v1.1.0", rec.Release)
	assert.Equal(t, map[string]int{w.served(cd.EnvDev, rec.Model.Version): 100}, w.traffic(cd.EnvDev))
}
