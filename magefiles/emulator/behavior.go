package emulator

import (
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/agentmodel"
)

// Behavior is how one model version answers invocations. The zero value is
// the contract stand-in (package agentmodel) with no latency and no errors;
// set fields to make a version slow, flaky or plainly wrong, or to make its
// deployment fail.
type Behavior struct {
	// Latency of each request, in service time (see Options.TimeScale).
	Latency Latency `json:"latency"`
	// ErrorRate is the share of requests answered with a 5xx (ErrorStatus).
	ErrorRate float64 `json:"error_rate,omitempty"`
	// ErrorStatus is the status of those errors; default 500.
	ErrorStatus int `json:"error_status,omitempty"`
	// ClientErrorRate is the share of requests answered with 400.
	ClientErrorRate float64 `json:"client_error_rate,omitempty"`
	// Responses are fixed answers for matching records, checked in order.
	Responses []FixedResponse `json:"responses,omitempty"`
	// BuildFailure, when set, makes every deployment of this version fail:
	// the endpoint update ends UPDATE_FAILED and these are the build logs.
	BuildFailure string `json:"build_failure,omitempty"`
	// Predict replaces the stand-in; records are JSON-decoded values and the
	// result needs one prediction per record. Not persisted.
	Predict func(records []any) []any `json:"-"`
}

// Latency is a latency distribution: log-normal through Median and P99, or
// fixed at Median when P99 is not above it. Draws are capped at 4 x P99.
type Latency struct {
	Median time.Duration `json:"median,omitempty"`
	P99    time.Duration `json:"p99,omitempty"`
}

// FixedLatency is a distribution that always draws d.
func FixedLatency(d time.Duration) Latency { return Latency{Median: d} }

// z99 is the standard normal quantile at 0.99.
const z99 = 2.3263478740408408

func (l Latency) draw(r *rand.Rand) time.Duration {
	median := l.Median
	if l.P99 <= median {
		return max(median, 0)
	}
	if median <= 0 {
		median = l.P99 / 10
	}
	mu := math.Log(float64(median))
	sigma := (math.Log(float64(l.P99)) - mu) / z99
	d := time.Duration(math.Exp(mu + sigma*r.NormFloat64()))
	return min(d, 4*l.P99)
}

// FixedResponse answers matching records with a fixed prediction, or fails
// the whole request with Status.
type FixedResponse struct {
	// Match is a case-insensitive substring of a record's "message"; empty
	// matches every record.
	Match string `json:"match,omitempty"`
	// Status, when 400 or above, fails the request with this status.
	Status int `json:"status,omitempty"`
	// Prediction replaces the prediction of a matching record.
	Prediction any `json:"prediction,omitempty"`
}

func (f FixedResponse) matches(record any) bool {
	if f.Match == "" {
		return true
	}
	rec, ok := record.(map[string]any)
	if !ok {
		return false
	}
	msg, _ := rec["message"].(string)
	return strings.Contains(strings.ToLower(msg), strings.ToLower(f.Match))
}

// outcome is what one invocation of a version does.
type outcome struct {
	latency time.Duration
	status  int // 0 = answer with predictions
	message string
}

// decide draws the latency and any error of one request.
func (b *Behavior) decide(r *rand.Rand, records []any) outcome {
	o := outcome{latency: b.Latency.draw(r)}
	x := r.Float64()
	switch {
	case x < b.ErrorRate:
		o.status = b.ErrorStatus
		if o.status < 500 {
			o.status = 500
		}
		o.message = "Model raised an exception while scoring the request (injected error)"
		return o
	case x < b.ErrorRate+b.ClientErrorRate:
		o.status = 400
		o.message = "Model rejected the input (injected client error)"
		return o
	}
	for _, rec := range records {
		for _, f := range b.Responses {
			if f.Status >= 400 && f.matches(rec) {
				o.status = f.Status
				o.message = "Fixed response for a matching record"
				return o
			}
		}
	}
	return o
}

// predict answers the records: the stand-in or Predict, then fixed responses.
func (b *Behavior) predict(records []any) []any {
	var out []any
	if b.Predict != nil {
		out = b.Predict(records)
	} else {
		preds := agentmodel.Predict(records)
		out = make([]any, len(preds))
		for i := range preds {
			out[i] = preds[i]
		}
	}
	for i, rec := range records {
		if i >= len(out) {
			break
		}
		for _, f := range b.Responses {
			if f.Status < 400 && f.Prediction != nil && f.matches(rec) {
				out[i] = f.Prediction
				break
			}
		}
	}
	return out
}
