package cd

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
)

// fakeStage runs fn.
type fakeStage struct {
	name string
	fn   func(s *State) error
}

func (f fakeStage) Name() string                          { return f.name }
func (f fakeStage) Run(_ context.Context, s *State) error { return f.fn(s) }

// fakeClock moves only when slept on.
type fakeClock struct {
	now   time.Time
	slept []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func testState(t *testing.T, env map[string]string) (*State, *bytes.Buffer, *[]int) {
	var out bytes.Buffer
	var exits []int
	no := false
	s, err := NewState(context.Background(), Options{
		Env: EnvDev, Root: t.TempDir(), Out: &out, Interactive: &no,
		Getenv: func(k string) string { return env[k] },
		Clock:  &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		Exit:   func(code int) { exits = append(exits, code) },
	})
	require.NoError(t, err)
	return s, &out, &exits
}

func TestFlowRunsStagesInOrderAndReportsSkips(t *testing.T) {
	s, out, _ := testState(t, nil)
	var ran []string
	stage := func(name string, err error) Stage {
		return fakeStage{name, func(*State) error { ran = append(ran, name); return err }}
	}
	cleaned := false
	s.Defer(func(context.Context) { cleaned = true })
	err := Flow{Name: "deploy:dev", Stages: []Stage{
		stage("a", nil), stage("b", Skip("nothing to do for %s", "b")), stage("c", errors.New("boom")), stage("d", nil),
	}}.Run(context.Background(), s)
	require.Error(t, err)
	assert.Equal(t, "deploy:dev: c: boom", err.Error(), "the error names the flow and the stage")
	assert.Equal(t, []string{"a", "b", "c"}, ran, "stops at the first failure")
	assert.True(t, cleaned, "cleanups run after a failure")
	assert.Contains(t, out.String(), "skipped: nothing to do for b")
	assert.Contains(t, out.String(), "✗ failed: boom")
	require.Len(t, s.Stages, 3)
	assert.Equal(t, []release.StageStatus{release.StageOK, release.StageSkipped, release.StageFailed},
		[]release.StageStatus{s.Stages[0].Status, s.Stages[1].Status, s.Stages[2].Status})
	assert.Equal(t, "nothing to do for b", s.Stages[1].Detail)
}

func TestFlowExitHook(t *testing.T) {
	s, out, exits := testState(t, map[string]string{ExitAfterStageEnv: "b"})
	var ran []string
	stage := func(name string) Stage {
		return fakeStage{name, func(*State) error { ran = append(ran, name); return nil }}
	}
	cleaned := false
	s.Defer(func(context.Context) { cleaned = true })
	err := Flow{Name: "deploy:dev", Stages: []Stage{stage("a"), stage("b"), stage("c")}}.Run(context.Background(), s)
	require.Error(t, err)
	assert.Equal(t, []int{ExitAfterStageCode}, *exits)
	assert.Equal(t, []string{"a", "b"}, ran)
	assert.False(t, cleaned, "a killed process releases nothing")
	assert.Contains(t, out.String(), "exiting after stage b")
}

func TestFlowCancelledContext(t *testing.T) {
	s, _, _ := testState(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := Flow{Name: "f", Stages: []Stage{fakeStage{"a", func(*State) error { ran = true; return nil }}}}.Run(ctx, s)
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, ran)
}

func TestObserverHearsStagesAndWaits(t *testing.T) {
	var events []Event
	s, _, _ := testState(t, nil)
	s.Opts.Observe = func(e Event) { events = append(events, e) }
	err := Flow{Name: "f", Stages: []Stage{fakeStage{"w", func(s *State) error {
		p := s.StartWait("thing")
		p.Seen("PENDING")
		p.Seen("READY")
		p.Done()
		return nil
	}}}}.Run(context.Background(), s)
	require.NoError(t, err)
	require.Len(t, events, 3)
	assert.Equal(t, "stage-start", events[0].Kind)
	assert.Equal(t, "wait", events[1].Kind)
	assert.Equal(t, 2, events[1].Wait.Polls)
	assert.Equal(t, "w", events[1].Wait.Stage)
	assert.Equal(t, "stage-end", events[2].Kind)
	require.Len(t, s.Waits, 1)
}

func TestPollUntilBacksOff(t *testing.T) {
	s, _, _ := testState(t, nil)
	clock := s.Clock.(*fakeClock)
	s.Opts.Poll = PollPolicy{Initial: time.Second, Step: time.Second, Max: 3 * time.Second}
	n := 0
	p := s.StartWait("x")
	err := s.PollUntil(context.Background(), time.Minute, p, func() (string, error) {
		n++
		if n < 5 {
			return "PENDING", ErrStillWaiting
		}
		return "READY", nil
	})
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}, clock.slept)
	assert.Equal(t, 5, p.polls)

	n = 0
	err = s.PollUntil(context.Background(), 5*time.Second, s.StartWait("y"), func() (string, error) { return "PENDING", ErrStillWaiting })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "timed out after 5s waiting for y (last state PENDING)")

	err = s.PollUntil(context.Background(), time.Minute, s.StartWait("z"), func() (string, error) { return "FAILED", errors.New("dead") })
	assert.EqualError(t, err, "dead", "a terminal error stops at once")
}

func TestDefaultPollMirrorsTheSDK(t *testing.T) {
	var p PollPolicy
	assert.Equal(t, time.Second, p.delay(1))
	assert.Equal(t, 5*time.Second, p.delay(5))
	assert.Equal(t, 10*time.Second, p.delay(30))
}

func TestCheckRun(t *testing.T) {
	run := func(lc jobs.RunLifeCycleState, rs jobs.RunResultState, msg string) *jobs.Run {
		return &jobs.Run{RunId: 7, RunPageUrl: "https://ws/#job/1/run/7", State: &jobs.RunState{LifeCycleState: lc, ResultState: rs, StateMessage: msg}}
	}
	tests := []struct {
		name string
		run  *jobs.Run
		want string
	}{
		{"success", run(jobs.RunLifeCycleStateTerminated, jobs.RunResultStateSuccess, ""), ""},
		{"terminated but failed", run(jobs.RunLifeCycleStateTerminated, jobs.RunResultStateFailed, "Task train failed"), "training run 7 ended FAILED: Task train failed; see https://ws/#job/1/run/7"},
		{"canceled", run(jobs.RunLifeCycleStateTerminated, jobs.RunResultStateCanceled, "Run cancelled."), "ended CANCELED: Run cancelled."},
		{"timed out", run(jobs.RunLifeCycleStateTerminated, jobs.RunResultStateTimedout, "Timed out"), "ended TIMEDOUT: Timed out"},
		{"skipped", run(jobs.RunLifeCycleStateSkipped, "", "max concurrent runs reached"), "ended SKIPPED: max concurrent runs reached"},
		{"skipped for concurrency, told by its code", func() *jobs.Run {
			r := run(jobs.RunLifeCycleStateSkipped, "", "a message that may change")
			r.Status = &jobs.RunStatus{TerminationDetails: &jobs.TerminationDetails{Code: jobs.TerminationCodeCodeMaxConcurrentRunsExceeded}}
			return r
		}(), "ended SKIPPED: the job's max_concurrent_runs was reached and its queue is disabled (MAX_CONCURRENT_RUNS_EXCEEDED)"},
		{"internal error", run(jobs.RunLifeCycleStateInternalError, "", "cluster died"), "ended INTERNAL_ERROR: cluster died"},
		{"no state", &jobs.Run{RunId: 7}, "ended UNKNOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkRun(tt.run, "training")
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			var rf *RunFailedError
			assert.ErrorAs(t, err, &rf)
		})
	}
}

func TestLastJSONLine(t *testing.T) {
	m, err := lastJSONLine("installing\n{\"not\": json\n{\"run_id\": \"abc\", \"model_version\": \"3\"}\n")
	require.NoError(t, err)
	assert.Equal(t, "abc", m["run_id"])
	_, err = lastJSONLine("no report here\n")
	assert.ErrorContains(t, err, "no JSON report")
}

func TestServedName(t *testing.T) {
	// One naming rule for the deploy and the rollout: the rollout's.
	c := &EnvConfig{ServedPrefix: "langgraph_human_interrupt_model_prod"}
	assert.Equal(t, "langgraph_human_interrupt_model_prod-3", c.ServedName("3"))
	assert.Equal(t, rollout.ServedEntityName("[dev alice] m", "12"), (&EnvConfig{ServedPrefix: "[dev alice] m"}).ServedName("12"))
	long := (&EnvConfig{ServedPrefix: "a-very-long-model-name-that-goes-on-and-on-and-on-beyond-the-limit"}).ServedName("123")
	assert.LessOrEqual(t, len(long), 63)
	assert.Contains(t, long, "-123")
}

func TestCheckEnv(t *testing.T) {
	for _, env := range Envs {
		assert.NoError(t, CheckEnv(env))
	}
	assert.EqualError(t, CheckEnv("production"), `unknown environment "production": want one of dev, staging, prod`)
	assert.EqualError(t, CheckEnv(""), "no environment given: want one of dev, staging, prod")
}

func TestPickSource(t *testing.T) {
	mk := func(id, tag string, o release.Outcome, v string) *release.Record {
		return &release.Record{ID: id, Kind: release.KindDeploy, Release: tag, Outcome: o, Model: &release.ModelVersionRef{Name: "m", Version: v}}
	}
	tests := []struct {
		name string
		recs []*release.Record
		want string
	}{
		{"none", nil, ""},
		{"verified", []*release.Record{mk("1", "v1", release.OutcomeVerified, "1")}, "1"},
		{"other release ignored", []*release.Record{mk("1", "v1", release.OutcomeVerified, "1"), mk("2", "v2", release.OutcomeFailed, "2")}, "1"},
		{"re-deploy of the same version not verified yet", []*release.Record{mk("1", "v1", release.OutcomeVerified, "1"), mk("2", "v1", release.OutcomeDeployed, "1")}, "1"},
		{"re-deploy of another version hides it", []*release.Record{mk("1", "v1", release.OutcomeVerified, "1"), mk("2", "v1", release.OutcomeDeployed, "2")}, "2"},
		{"a failed verify hides an older pass", []*release.Record{mk("1", "v1", release.OutcomeVerified, "1"), mk("2", "v1", release.OutcomeVerifyFailed, "1")}, "2"},
		{"a failed deploy hides an older pass", []*release.Record{mk("1", "v1", release.OutcomeVerified, "1"), mk("2", "v1", release.OutcomeFailed, "1")}, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pickSource(tt.recs, "v1")
			if tt.want == "" {
				assert.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			assert.Equal(t, tt.want, got.ID)
		})
	}
}

func TestFlowsReadTopToBottom(t *testing.T) {
	names := func(stages []Stage) []string {
		var out []string
		for _, s := range stages {
			out = append(out, s.Name())
		}
		return out
	}
	assert.Equal(t, []string{"config", "inputs", "release", "connect", "catalog", "plan", "approve", "lock", "record", "bundle", "train", "register", "serve"}, names(DeployDev()))
	assert.Equal(t, []string{"config", "inputs", "release", "connect", "catalog", "source", "plan", "approve", "lock", "record", "bundle", "train", "register", "promote", "serve"}, names(DeployStaging()))
	assert.Equal(t, []string{"config", "inputs", "release", "connect", "catalog", "source", "validation", "plan", "approve", "lock", "record", "backup", "bundle", "train", "register", "promote", "canary", "analysis", "serve", "smoke"}, names(DeployProd()))
	assert.Equal(t, []string{"config", "inputs", "connect", "target", "approve", "lock", "record", "backup", "rollback", "smoke"}, names(RollbackStages(RollbackTarget{})))
	assert.Equal(t, []string{"config", "inputs", "connect", "find-release", "verify"}, names(VerifyStages()))
	assert.Equal(t, []string{"config", "release", "connect", "source", "validate"}, names(ValidateStages()))
	_, err := DeployStages("qa")
	assert.Error(t, err)
}
