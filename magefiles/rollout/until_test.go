package rollout

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// runUntil runs the canary with Until and Resume as deploy:prod's stages
// do, returning the last checkpoint reported.
func runUntil(t *testing.T, wd *world, until Stage, resume *Checkpoint) (*Outcome, *Checkpoint, error) {
	t.Helper()
	c := wd.canary(testPlan())
	c.Until, c.Resume = until, resume
	var st stages
	c.Progress = st.report
	out, err := c.Run(testCtx(t))
	cp := resume
	if len(st.names()) > 0 {
		last := st.last()
		cp = &last
	}
	return out, cp, err
}

// Until splits one rollout into the canary, analysis and rollout stages of
// deploy:prod: each run stops where it is told and the next resumes from
// the checkpoint without repeating an update or an interval.
func TestUntilSplitsTheRollout(t *testing.T) {
	wd := newWorld(t, worldOpts{rate: clientRate})

	_, cp, err := runUntil(t, wd, StageCanary, nil)
	require.ErrorIs(t, err, ErrPaused)
	assert.Equal(t, map[string]int{wd.stable.Name: 90, wd.cand.Name: 10}, wd.traffic())
	assert.Equal(t, StageCanary, cp.Stage)
	assert.Len(t, wd.updates(), 1)

	// The canary stage again (a re-run after a kill): nothing changes.
	_, cp2, err := runUntil(t, wd, StageCanary, cp)
	require.ErrorIs(t, err, ErrPaused)
	assert.Len(t, wd.updates(), 1, "already at 10%: no update")
	cp = cp2

	_, cp, err = runUntil(t, wd, StagePromoting, cp)
	require.ErrorIs(t, err, ErrPaused)
	assert.Equal(t, StagePromoting, cp.Stage, "the decision is in the checkpoint")
	assert.Len(t, cp.Intervals, 5)
	assert.Equal(t, map[string]int{wd.stable.Name: 90, wd.cand.Name: 10}, wd.traffic(), "paused before promoting")
	assert.Len(t, wd.updates(), 1)

	// Earlier stages re-run after the decision keep it and change nothing.
	for _, until := range []Stage{StageCanary, StagePromoting} {
		_, again, err := runUntil(t, wd, until, cp)
		require.ErrorIs(t, err, ErrPaused, until)
		assert.Equal(t, StagePromoting, again.Stage)
	}
	assert.Len(t, wd.updates(), 1)

	out, _, err := runUntil(t, wd, "", cp)
	require.NoError(t, err)
	assert.Equal(t, "a promotion", out.Resumed)
	assert.Len(t, out.Intervals, 5, "the evidence follows the promotion")
	assert.Equal(t, map[string]int{wd.cand.Name: 100}, wd.traffic())
	assert.Len(t, wd.updates(), 2, "one canary update, one promotion")
	wd.assertHealthyRouted(wd.stable.Name, wd.cand.Name)

	// Any stage after the promotion finds nothing to do.
	out, _, err = runUntil(t, wd, StagePromoting, cp)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{wd.cand.Name: 100}, Traffic(out.After))
	assert.Len(t, wd.updates(), 2)
}

// An abort is carried through whatever Until says.
func TestUntilDoesNotStopAnAbort(t *testing.T) {
	wd := newWorld(t, worldOpts{rate: clientRate, candBehavior: &emulator.Behavior{ErrorRate: 0.2}})
	_, cp, err := runUntil(t, wd, StageCanary, nil)
	require.ErrorIs(t, err, ErrPaused)

	_, cp, err = runUntil(t, wd, StagePromoting, cp)
	var ae *AbortError
	require.ErrorAs(t, err, &ae)
	assert.True(t, ae.Restored)
	assert.Equal(t, StageAborted, cp.Stage)
	assert.Equal(t, map[string]int{wd.stable.Name: 100}, wd.traffic())

	// A checkpoint that says aborting finishes the abort even in the canary stage.
	cp.Stage = StageAborting
	_, _, err = runUntil(t, wd, StageCanary, cp)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, map[string]int{wd.stable.Name: 100}, wd.traffic())
}
