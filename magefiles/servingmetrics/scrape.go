package servingmetrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/serving"
)

// Exporter reads a serving endpoint's metrics export. The SDK's
// w.ServingEndpoints satisfies it.
type Exporter interface {
	ExportMetrics(ctx context.Context, req serving.ExportMetricsRequest) (*serving.ExportMetricsResponse, error)
}

// Scrape reads the endpoint's metrics export once and parses it as read at
// at: the one read the verify checks and the canary share.
func Scrape(ctx context.Context, m Exporter, endpoint string, at time.Time) (Reading, error) {
	resp, err := m.ExportMetrics(ctx, serving.ExportMetricsRequest{Name: endpoint})
	if err != nil {
		return Reading{}, fmt.Errorf("read metrics export of %s: %s", endpoint, DescribeError(err))
	}
	if resp.Contents == nil {
		return Reading{}, fmt.Errorf("read metrics export of %s: empty response", endpoint)
	}
	defer resp.Contents.Close()
	r, err := Parse(resp.Contents, at)
	if err != nil {
		return Reading{}, fmt.Errorf("metrics export of %s: %w", endpoint, err)
	}
	return r, nil
}

// DescribeError renders an API error as "HTTP 500 (INTERNAL_ERROR): message"
// (the message cut at 300 bytes), any other error as it is.
func DescribeError(err error) string {
	var apiErr *apierr.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode
		if code == "" {
			code = "no error code"
		}
		msg := apiErr.Message
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return fmt.Sprintf("HTTP %d (%s): %s", apiErr.StatusCode, code, msg)
	}
	return err.Error()
}
