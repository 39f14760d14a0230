package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/servingmetrics"
)

// ClientRequestPrefix starts the client_request_id of every request verify
// sends, so readers of the endpoint's inference table (the validation
// gate's replay) can tell test traffic from production traffic.
const ClientRequestPrefix = "verify-"

// Querier sends one request to a serving endpoint. The SDK's
// w.ServingEndpoints satisfies it.
type Querier interface {
	Query(ctx context.Context, req serving.QueryEndpointInput) (*serving.QueryEndpointResponse, error)
}

// MetricsExporter reads a serving endpoint's metrics export. The SDK's
// w.ServingEndpoints satisfies it.
type MetricsExporter = servingmetrics.Exporter

// Endpoint is everything a full verify run needs; pass w.ServingEndpoints.
type Endpoint interface {
	Querier
	MetricsExporter
}

// Prediction is one answer of the served model, per the model contract.
type Prediction struct {
	ThreadID  string         `json:"thread_id"`
	Status    string         `json:"status"`
	Tool      string         `json:"tool"`
	ToolArgs  map[string]any `json:"tool_args"`
	Risk      string         `json:"risk"`
	Interrupt *Interrupt     `json:"interrupt"`
	Result    *string        `json:"result"`
}

// Interrupt is the approval request of a high-risk tool call.
type Interrupt struct {
	Question   string `json:"question"`
	Checkpoint string `json:"checkpoint"`
}

// answer is one query's outcome.
type answer struct {
	prediction  Prediction
	servedModel string
}

// queryOne sends a single dataframe record and decodes the single prediction
// that must come back.
func queryOne(ctx context.Context, q Querier, endpoint string, record map[string]any) (answer, error) {
	resp, err := q.Query(ctx, serving.QueryEndpointInput{
		Name:             endpoint,
		DataframeRecords: []any{record},
		ClientRequestId:  ClientRequestPrefix + "suite",
	})
	if err != nil {
		return answer{}, fmt.Errorf("query %s: %s", endpoint, describeError(err))
	}
	if n := len(resp.Predictions); n != 1 {
		return answer{servedModel: resp.ServedModelName}, fmt.Errorf("query %s: %d predictions for 1 record", endpoint, n)
	}
	p, err := DecodePrediction(resp.Predictions[0])
	if err != nil {
		return answer{servedModel: resp.ServedModelName}, fmt.Errorf("query %s: %w", endpoint, err)
	}
	return answer{prediction: p, servedModel: resp.ServedModelName}, nil
}

// DecodePrediction turns the SDK's loosely typed prediction into the contract
// shape, rejecting anything that is not an object with the contract's types.
func DecodePrediction(raw any) (Prediction, error) {
	data, err := json.Marshal(raw)
	if err != nil {
		return Prediction{}, fmt.Errorf("prediction: %w", err)
	}
	var p Prediction
	if err := json.Unmarshal(data, &p); err != nil {
		return Prediction{}, fmt.Errorf("prediction %s does not match the contract: %w", truncate(string(data), 200), err)
	}
	return p, nil
}

// describeError names the HTTP status and error code of an API error, which
// the SDK's message alone leaves out.
func describeError(err error) string { return servingmetrics.DescribeError(err) }

// httpStatus is the HTTP status of an API error, 0 for anything else.
func httpStatus(err error) int {
	var apiErr *apierr.APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
