package cd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/databricks/databricks-sdk-go/service/jobs"
)

// PollPolicy paces a poll that has no SDK waiter: the first check at once,
// then Initial, growing by Step per attempt up to Max (the SDK's waiters
// back off the same way, 1s more per attempt up to 10s).
type PollPolicy struct {
	Initial, Step, Max time.Duration
}

// DefaultPoll mirrors the SDK waiters' linear backoff.
var DefaultPoll = PollPolicy{Initial: time.Second, Step: time.Second, Max: 10 * time.Second}

func (p PollPolicy) delay(attempt int) time.Duration {
	if p.Initial <= 0 {
		p = DefaultPoll
	}
	d := p.Initial + time.Duration(attempt-1)*p.Step
	if p.Max > 0 && d > p.Max {
		d = p.Max
	}
	return d
}

// WaitStat measures one wait: what, how many status reads, how long.
type WaitStat struct {
	Stage   string        `json:"stage"`
	What    string        `json:"what"`
	Polls   int           `json:"polls"`
	Elapsed time.Duration `json:"elapsed"`
	Final   string        `json:"final"`
}

// Progress prints a waiting line when the observed state changes, and at
// most every progressEvery otherwise, and counts the polls.
type Progress struct {
	s       *State
	stage   string
	what    string
	start   time.Time
	last    string
	printed time.Time
	polls   int
}

const progressEvery = 15 * time.Second

// StartWait begins measuring and reporting a wait on what, labelled with
// the running stage; call Seen on every poll and Done at the end.
func (s *State) StartWait(what string) *Progress {
	now := s.Clock.Now()
	return &Progress{s: s, stage: s.current, what: what, start: now, printed: now}
}

// Seen records one poll that observed state.
func (p *Progress) Seen(state string) {
	p.polls++
	now := p.s.Clock.Now()
	if state != p.last || now.Sub(p.printed) >= progressEvery {
		p.s.Printf("   waiting for %s: %s (%s)\n", p.what, state, now.Sub(p.start).Round(time.Second))
		p.printed = now
	}
	p.last = state
}

// Done records the wait in the State and for the observer.
func (p *Progress) Done() WaitStat {
	w := WaitStat{Stage: p.stage, What: p.what, Polls: p.polls, Elapsed: p.s.Clock.Now().Sub(p.start), Final: p.last}
	p.s.Waits = append(p.s.Waits, w)
	p.s.observe(Event{Kind: "wait", Stage: p.stage, Time: p.s.Clock.Now(), Wait: &w})
	return w
}

// ErrStillWaiting is returned by a poll function that has not reached its
// goal yet.
var ErrStillWaiting = errors.New("still waiting")

// PollUntil calls check until it returns nil (done) or an error other than
// ErrStillWaiting, backing off between calls, for at most timeout.
func (s *State) PollUntil(ctx context.Context, timeout time.Duration, p *Progress, check func() (state string, err error)) error {
	deadline := s.Clock.Now().Add(timeout)
	for attempt := 1; ; attempt++ {
		state, err := check()
		p.Seen(state)
		if !errors.Is(err, ErrStillWaiting) {
			return err
		}
		if !s.Clock.Now().Before(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s (last state %s)", timeout, p.what, state)
		}
		if err := s.Clock.Sleep(ctx, s.Opts.Poll.delay(attempt)); err != nil {
			return fmt.Errorf("waiting for %s: %w", p.what, err)
		}
	}
}

// RunState is how a wait shows a job run: its life-cycle and result state
// and, while it is QUEUED, why. Jobs API 2.2 queues a run over the job's
// concurrency limit by default instead of skipping it, so a training run
// may wait behind another before it starts. The reason comes from the
// queue code (the SDK documents the message as unstructured and subject to
// change); an unknown code is shown as it is.
func RunState(r *jobs.Run) string {
	if r == nil || r.State == nil {
		return ""
	}
	state := string(r.State.LifeCycleState)
	if r.State.ResultState != "" {
		state += " " + string(r.State.ResultState)
	}
	if r.State.LifeCycleState == jobs.RunLifeCycleStateQueued {
		state += " (" + queueReason(r) + ")"
	}
	return state
}

// queueReasons are the SDK's QueueDetailsCode values in words.
var queueReasons = map[jobs.QueueDetailsCodeCode]string{
	jobs.QueueDetailsCodeCodeMaxConcurrentRunsReached:      "waiting for the job's other runs to end: its max_concurrent_runs is reached",
	jobs.QueueDetailsCodeCodeActiveRunsLimitReached:        "waiting for the workspace's limit of active task runs",
	jobs.QueueDetailsCodeCodeActiveRunJobTasksLimitReached: "waiting for the workspace's limit of active run job tasks",
}

func queueReason(r *jobs.Run) string {
	if r.Status != nil && r.Status.QueueDetails != nil && r.Status.QueueDetails.Code != "" {
		if why, ok := queueReasons[r.Status.QueueDetails.Code]; ok {
			return why
		}
		return string(r.Status.QueueDetails.Code)
	}
	if r.State.StateMessage != "" {
		return r.State.StateMessage
	}
	return "waiting for the job's other runs to end"
}
