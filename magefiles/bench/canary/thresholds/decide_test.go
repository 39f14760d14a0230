package thresholds

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// results builds a result per letter: S successful, F failed, I inconclusive,
// E error, ? a phase this code does not know.
func results(phases string) []Result {
	out := make([]Result, 0, len(phases))
	for i, c := range phases {
		var p Phase
		switch c {
		case 'S':
			p = PhaseSuccessful
		case 'F':
			p = PhaseFailed
		case 'I':
			p = PhaseInconclusive
		case 'E':
			p = PhaseError
		default:
			p = "Pending"
		}
		out = append(out, Result{Phase: p, Reason: string(p) + " #" + string(rune('1'+i))})
	}
	return out
}

func TestDecide(t *testing.T) {
	limits := Limits{Count: 3, FailureLimit: 2, InconclusiveLimit: 3, ConsecutiveErrorLimit: 2}
	tests := []struct {
		name    string
		phases  string
		limits  Limits
		want    Action
		reason  []string
		worst   Phase
		counted [5]int // successful, failed, inconclusive, errors, consecutive errors
	}{
		{name: "no results yet", phases: "", want: ActionContinue, worst: PhaseSuccessful,
			reason: []string{"0/3 successful, 0/2 failed, 0/3 inconclusive, 0/2 errors in a row"}},
		{name: "one success short of count", phases: "SS", want: ActionContinue, worst: PhaseSuccessful,
			counted: [5]int{2, 0, 0, 0, 0}},
		{name: "count successes promote", phases: "SSS", want: ActionPromote, worst: PhaseSuccessful,
			reason: []string{"3 successful intervals reached count 3"}, counted: [5]int{3, 0, 0, 0, 0}},
		{name: "one failure below the limit is tolerated", phases: "SFS", want: ActionContinue, worst: PhaseFailed,
			counted: [5]int{2, 1, 0, 0, 0}},
		{name: "failures reaching the limit abort", phases: "FF", want: ActionAbort, worst: PhaseFailed,
			reason: []string{"2 failed intervals reached failure_limit 2", "(last failed: Failed #2)"}, counted: [5]int{0, 2, 0, 0, 0}},
		{name: "failures count in total, not only in a row", phases: "FSF", want: ActionAbort, worst: PhaseFailed,
			counted: [5]int{1, 2, 0, 0, 0}},
		{name: "failure limit 1 aborts on the first failure", phases: "SF", limits: Limits{Count: 3, FailureLimit: 1, InconclusiveLimit: 3, ConsecutiveErrorLimit: 2},
			want: ActionAbort, worst: PhaseFailed, reason: []string{"1 failed intervals reached failure_limit 1"}},
		{name: "worst phase wins over enough successes", phases: "SSFSF", want: ActionAbort, worst: PhaseFailed,
			counted: [5]int{3, 2, 0, 0, 0}},
		{name: "inconclusive below the limit continues", phases: "IIS", want: ActionContinue, worst: PhaseInconclusive,
			counted: [5]int{1, 0, 2, 0, 0}},
		{name: "inconclusive reaching the limit aborts", phases: "ISII", want: ActionAbort, worst: PhaseInconclusive,
			reason: []string{"3 inconclusive intervals reached inconclusive_limit 3", "(last inconclusive: Inconclusive #4)"}},
		{name: "an error is retried", phases: "SE", want: ActionContinue, worst: PhaseError, counted: [5]int{1, 0, 0, 1, 1}},
		{name: "consecutive errors reaching the limit abort", phases: "SEE", want: ActionAbort, worst: PhaseError,
			reason: []string{"2 intervals in a row could not be measured, reaching consecutive_error_limit 2"}, counted: [5]int{1, 0, 0, 2, 2}},
		{name: "errors interrupted by a measurement do not add up", phases: "ESESE", want: ActionContinue, worst: PhaseError,
			counted: [5]int{2, 0, 0, 3, 1}},
		{name: "errors do not count toward promotion", phases: "SESES", want: ActionPromote, worst: PhaseError,
			counted: [5]int{3, 0, 0, 2, 0}},
		{name: "an unknown phase counts as an error", phases: "S??", want: ActionAbort, worst: "Pending",
			counted: [5]int{1, 0, 0, 2, 2}},
		{name: "failure named first when several limits are reached", phases: "FIEFIIE", want: ActionAbort, worst: PhaseFailed,
			limits: Limits{Count: 3, FailureLimit: 2, InconclusiveLimit: 3, ConsecutiveErrorLimit: 1},
			reason: []string{"2 failed intervals reached failure_limit 2; 1 intervals in a row", "; 3 inconclusive", "(last failed: Failed #4)"}},
		{name: "invalid limits abort", phases: "SSS", limits: Limits{Count: 0, FailureLimit: 1, InconclusiveLimit: 1, ConsecutiveErrorLimit: 1},
			want: ActionAbort, worst: PhaseSuccessful, reason: []string{"analysis limits: count 0 must be at least 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.limits
			if l == (Limits{}) {
				l = limits
			}
			d := Decide(results(tt.phases), l)
			assert.Equal(t, tt.want, d.Action, d.Reason)
			assert.Equal(t, tt.worst, d.Worst)
			assert.Equal(t, len(tt.phases), d.Intervals)
			for _, s := range tt.reason {
				assert.Contains(t, d.Reason, s)
			}
			if tt.counted != [5]int{} {
				assert.Equal(t, tt.counted, [5]int{d.Successful, d.Failed, d.Inconclusive, d.Errors, d.ConsecutiveErrors})
			}
			assert.Equal(t, string(d.Action)+": "+d.Reason, d.String())
		})
	}
}

// A 20%-error candidate with the default limits aborts after failure_limit
// intervals, not later.
func TestDecideAbortsBadCandidateWithinFailureLimit(t *testing.T) {
	limits, policy := DefaultLimits(), DefaultPolicy()
	var rs []Result
	for i := 1; i <= 10; i++ {
		rs = append(rs, Evaluate(Measurement{sd("v2", 200, 0, 40, 100), sd("v1", 1800, 0, 2, 100)}, policy))
		d := Decide(rs, limits)
		if d.Action == ActionAbort {
			assert.Equal(t, limits.FailureLimit, i)
			return
		}
		require.Equal(t, ActionContinue, d.Action)
	}
	t.Fatal("never aborted")
}

func TestLimitsValidate(t *testing.T) {
	require.NoError(t, DefaultLimits().Validate())
	require.NoError(t, Limits{Count: 1, FailureLimit: 1, InconclusiveLimit: 1, ConsecutiveErrorLimit: 1}.Validate())
	err := Limits{Count: -1}.Validate()
	require.Error(t, err)
	for _, s := range []string{"count -1", "failure_limit 0", "inconclusive_limit 0", "consecutive_error_limit 0"} {
		assert.Contains(t, err.Error(), s)
	}
}
