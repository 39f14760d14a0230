package serving

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
	// Latency of each request, in service time (see Options.Scale).
	Latency Latency `json:"latency"`
	// ErrorRate is the share of requests on which the model raises. As on
	// the service, a model's exception is the caller's 400 BAD_REQUEST with
	// the MLflow scoring server's message, never a 5xx.
	ErrorRate float64 `json:"error_rate,omitempty"`
	// PlatformErrorRate is the share of requests the platform fails (an
	// overloaded or dropped upstream): answered with PlatformErrorStatus and
	// counted as that entity's 5xx.
	PlatformErrorRate float64 `json:"platform_error_rate,omitempty"`
	// PlatformErrorStatus is the status of platform errors, 500 to 599;
	// default 500 (429 and 503 would be retried by the SDK).
	PlatformErrorStatus int `json:"platform_error_status,omitempty"`
	// ClientErrorRate is the share of requests rejected as malformed input
	// (400), before the model runs.
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

// ModelErrorMessage is how the service answers a request whose model
// raised: MLflow's scoring server wraps any exception from predict() this
// way, with error_code BAD_REQUEST.
const ModelErrorMessage = "Encountered an unexpected error while evaluating the model. Verify that the input is compatible with the model for inference."

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
	case x < b.PlatformErrorRate:
		o.status = b.PlatformErrorStatus
		if o.status < 500 || o.status > 599 {
			o.status = 500
		}
		o.message = "The serving platform failed to handle the request (injected platform fault)."
		return o
	case x < b.PlatformErrorRate+b.ClientErrorRate:
		o.status = 400
		o.message = "Model input rejected (injected client error)."
		return o
	case x < b.PlatformErrorRate+b.ClientErrorRate+b.ErrorRate:
		o.status = 400
		o.message = ModelErrorMessage
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
