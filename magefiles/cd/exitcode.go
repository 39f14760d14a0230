package cd

import (
	"errors"

	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
)

// Exit codes of a deploy whose canary was aborted, one per cause, so a
// pipeline (or the on-call engineer) tells a bad model from a failing
// platform without reading the log; and of a release the validation gate
// stopped (validate failed, or deploy:prod refused a version without a
// passing verdict). Any other failure exits 1.
const (
	ExitCandidateWorse      = 10
	ExitInsufficientTraffic = 11
	ExitPlatformError       = 12
	ExitTimeout             = 13
	ExitValidationFailed    = 14
	ExitInterrupted         = 130 // as a shell reports Ctrl-C
)

var exitCodes = map[rollout.AbortCause]int{
	rollout.CauseCandidateWorse:      ExitCandidateWorse,
	rollout.CauseInsufficientTraffic: ExitInsufficientTraffic,
	rollout.CausePlatformError:       ExitPlatformError,
	rollout.CauseTimeout:             ExitTimeout,
	rollout.CauseOperatorInterrupt:   ExitInterrupted,
}

// ExitCode is the process exit code of err: 0 for nil, the abort cause's
// code for an aborted canary, 1 otherwise.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ae *rollout.AbortError
	if errors.As(err, &ae) {
		if code, ok := exitCodes[ae.Why()]; ok {
			return code
		}
	}
	var failed *ValidationFailedError
	var required *ValidationRequiredError
	if errors.As(err, &failed) || errors.As(err, &required) {
		return ExitValidationFailed
	}
	return 1
}

// exitError is an error that tells mage its exit code (ExitStatus).
type exitError struct {
	error
	code int
}

func (e exitError) ExitStatus() int { return e.code }
func (e exitError) Unwrap() error   { return e.error }

// WithExitCode returns err so that mage exits with ExitCode(err).
func WithExitCode(err error) error {
	if err == nil {
		return nil
	}
	return exitError{error: err, code: ExitCode(err)}
}
