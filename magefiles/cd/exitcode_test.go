package cd

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/judge"
)

func TestExitCode(t *testing.T) {
	abort := func(ae *rollout.AbortError) error { return fmt.Errorf("deploy:prod: rollout: %w", ae) }
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"any failure", errors.New("boom"), 1},
		{"candidate judged worse", abort(&rollout.AbortError{Decision: &judge.Decision{Outcome: judge.Abort}}), ExitCandidateWorse},
		{"insufficient traffic", abort(&rollout.AbortError{Decision: &judge.Decision{Outcome: judge.InsufficientTraffic}}), ExitInsufficientTraffic},
		{"platform error", abort(&rollout.AbortError{Cause: errors.New("500 INTERNAL_ERROR")}), ExitPlatformError},
		{"interrupted", abort(&rollout.AbortError{Cause: context.Canceled}), ExitInterrupted},
		{"timed out", abort(&rollout.AbortError{Cause: context.DeadlineExceeded}), ExitTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ExitCode(tc.err))
			if tc.err == nil {
				assert.NoError(t, WithExitCode(nil))
				return
			}
			wrapped := WithExitCode(tc.err)
			assert.EqualError(t, wrapped, tc.err.Error())
			assert.Equal(t, tc.want, wrapped.(interface{ ExitStatus() int }).ExitStatus(), "what mage reads")
		})
	}
}
