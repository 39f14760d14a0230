package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/retries"
	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/judge"
)

// Keys under which deploy:prod keeps the rollout's evidence in a release
// record's attachments.
const (
	// BackupAttachment holds the workspace path of the backup taken
	// before the change.
	BackupAttachment = "backup"
	// CanaryAttachment holds the latest Checkpoint.
	CanaryAttachment = "canary"
)

// Stage is where a rollout stands, as its progress reports and checkpoints
// say.
type Stage string

// The stages, in the order a rollout meets them.
const (
	// StageCanary: a setWeight step is putting the candidate at Percent.
	StageCanary Stage = "canary"
	// StageAnalysis: an analyze step judged an interval.
	StageAnalysis Stage = "analysis"
	// StagePromoting: the analysis passed; the candidate is being moved to 100%.
	StagePromoting Stage = "promoting"
	// StagePromoted: the candidate serves all traffic (terminal).
	StagePromoted Stage = "promoted"
	// StageAborting: the rollout decided to abort; stable is being restored.
	StageAborting Stage = "aborting"
	// StageAborted: stable serves all traffic again (terminal).
	StageAborted Stage = "aborted"
)

// Interval is one judged analysis interval, in a form fit for JSON.
type Interval struct {
	// Step is the index of the analyze step in the plan, Percent the
	// candidate's weight while it ran, N its number within the step (from 1).
	Step    int       `json:"step"`
	Percent int       `json:"percent"`
	N       int       `json:"n"`
	At      time.Time `json:"at"`
	// Probes counts the probe traffic sent during the interval.
	Probes *ProbeStats `json:"probes,omitempty"`
	// Judged are the export's minutes judged in this interval.
	Judged []judge.Minute `json:"judged,omitempty"`
	// Gaps are minutes the export never showed, as of this interval.
	Gaps []time.Time `json:"gaps,omitempty"`
	// ScrapeError is why the export could not be read.
	ScrapeError string `json:"scrape_error,omitempty"`
	// Decision is the judgement after this interval.
	judge.Decision
}

// Checkpoint is a rollout's progress as the release record keeps it. Pass
// the last one back as Canary.Resume after a crash: a rollout that had
// decided to abort or promote finishes that, and an analysis continues
// with the intervals already judged at the same step and weight.
type Checkpoint struct {
	Stage     Stage  `json:"stage"`
	Step      int    `json:"step"`
	Percent   int    `json:"percent"`
	Endpoint  string `json:"endpoint"`
	Stable    string `json:"stable,omitempty"`
	Candidate string `json:"candidate"`
	// Reason explains a decision (abort or promote); Why classifies an abort.
	Reason    string     `json:"reason,omitempty"`
	Why       AbortCause `json:"why,omitempty"`
	Intervals []Interval `json:"intervals,omitempty"`
	At        time.Time  `json:"at"`
}

// Progress is what the progress callback hears after each step: the
// checkpoint to store, and for an analysis the interval just judged with
// the decision so far.
type Progress struct {
	Checkpoint
	Decision *judge.Decision
}

// judged returns the stored intervals of one step and weight, so a resumed
// analysis folds their minutes again.
func judged(intervals []Interval, step, percent int) []Interval {
	var out []Interval
	for _, iv := range intervals {
		if iv.Step == step && iv.Percent == percent {
			out = append(out, iv)
		}
	}
	return out
}

// Outcome is a finished rollout: the candidate serves all traffic.
type Outcome struct {
	Endpoint  string
	Stable    *Entity // nil when the rollout resumed after the stable entity was gone
	Candidate Entity
	// Before is the endpoint as the rollout found it, After as it left it.
	Before, After *serving.ServingEndpointDetailed
	// Intervals are all judged intervals, including those of a resumed run.
	Intervals []Interval
	Decision  *judge.Decision
	// Updates counts the config updates this run sent.
	Updates int
	// Resumed says what the run found and continued from, empty for a fresh
	// start.
	Resumed string
}

// ErrAborted is wrapped by every AbortError.
var ErrAborted = errors.New("canary aborted")

// AbortError is a rollout that was pulled back: the candidate is removed and
// the stable version serves all traffic again (when Restored), with the
// evidence that decided it.
type AbortError struct {
	Endpoint  string
	Stable    Entity
	Candidate Entity
	// Reason says why: the analysis decision, or the update that failed.
	Reason string
	// Decision is the analysis decision, nil when something else aborted;
	// its Outcome tells a bad candidate (Abort) from too little traffic.
	Decision *judge.Decision
	// Intervals are all judged intervals with their evidence (including
	// those of a resumed run).
	Intervals []Interval
	// Cause is the failure that aborted, if not the analysis.
	Cause error
	// Restored says stable serves 100% again; RestoreErr is why not.
	Restored   bool
	RestoreErr error
	// Before is the endpoint as the rollout found it, After as it left it.
	Before, After *serving.ServingEndpointDetailed
	Updates       int
	// Resumed is the cause a resumed abort found in its checkpoint.
	Resumed AbortCause
}

// AbortCause is why a canary was aborted, in the words the record, the
// notifications and the exit code use: the on-call engineer must tell "the
// model is bad" from "the platform failed".
type AbortCause string

// The causes.
const (
	// CauseCandidateWorse: the analysis judged the candidate worse.
	CauseCandidateWorse AbortCause = "candidate judged worse"
	// CauseInsufficientTraffic: too little attributable traffic to judge.
	CauseInsufficientTraffic AbortCause = "insufficient traffic"
	// CausePlatformError: a call or an endpoint update failed; the candidate
	// was not judged.
	CausePlatformError AbortCause = "platform error"
	// CauseOperatorInterrupt: the run was interrupted (Ctrl-C, a cancelled job).
	CauseOperatorInterrupt AbortCause = "operator interrupt"
	// CauseTimeout: a wait ran past its limit.
	CauseTimeout AbortCause = "timeout"
)

// errNotReady is an endpoint that did not become READY within the update
// timeout.
var errNotReady = errors.New("not READY")

// isTimeout reports whether err is a wait that ran out of time: the SDK's
// waiters' or the rollout's own.
func isTimeout(err error) bool {
	var timedOut *retries.ErrTimedOut
	return errors.As(err, &timedOut) || errors.Is(err, errNotReady)
}

// Judged reports whether the cause is a verdict on the candidate.
func (c AbortCause) Judged() bool { return c == CauseCandidateWorse }

// Why classifies the abort.
func (e *AbortError) Why() AbortCause {
	switch {
	case e.Cause != nil && errors.Is(e.Cause, context.Canceled):
		return CauseOperatorInterrupt
	case e.Cause != nil && (errors.Is(e.Cause, context.DeadlineExceeded) || isTimeout(e.Cause)):
		return CauseTimeout
	case e.Cause != nil:
		return CausePlatformError
	case e.Decision != nil && e.Decision.Outcome == judge.InsufficientTraffic:
		return CauseInsufficientTraffic
	case e.Decision != nil && e.Decision.Outcome == judge.Abort:
		return CauseCandidateWorse
	case e.Resumed != "":
		return e.Resumed
	}
	return CausePlatformError
}

func (e *AbortError) Error() string {
	var b strings.Builder
	why := e.Why()
	fmt.Fprintf(&b, "canary of %s on %s aborted (%s", describe(e.Candidate), e.Endpoint, why)
	if !why.Judged() {
		b.WriteString(", candidate not judged")
	}
	fmt.Fprintf(&b, "): %s", e.Reason)
	if e.Restored {
		fmt.Fprintf(&b, "; %s serves 100%% again", describe(e.Stable))
	} else {
		fmt.Fprintf(&b, "; restoring %s at 100%% failed: %v (run the deploy again to finish the abort, or mage rollback)", describe(e.Stable), e.RestoreErr)
	}
	return b.String()
}

// Unwrap lets errors.Is find ErrAborted, the cause and the restore failure.
func (e *AbortError) Unwrap() []error {
	out := []error{ErrAborted}
	if e.Cause != nil {
		out = append(out, e.Cause)
	}
	if e.RestoreErr != nil {
		out = append(out, e.RestoreErr)
	}
	return out
}
