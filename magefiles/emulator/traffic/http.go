package traffic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/databricks/databricks-sdk-go/service/serving"
)

// HTTPQuerier sends the clients' requests as plain HTTP POSTs to the
// endpoint's invocations path, bearer token and JSON body as the SDK sends
// them, without the SDK's per-request work (retries, rate limiting,
// request and response mapping). Client load runs to thousands of
// requests in a canary test; the deploy under test keeps using the SDK.
type HTTPQuerier struct {
	Host   string       // the workspace URL, http://127.0.0.1:port
	Token  string       // a personal access token
	Client *http.Client // nil: a client with keep-alive for concurrency connections
}

// NewHTTPQuerier returns a querier for the workspace at host.
func NewHTTPQuerier(host, token string) *HTTPQuerier {
	return &HTTPQuerier{Host: host, Token: token,
		Client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}}
}

// Query posts req and returns the served entity (the served-model-name
// header); a non-2xx answer is an error with its status.
func (q *HTTPQuerier) Query(ctx context.Context, req serving.QueryEndpointInput) (*serving.QueryEndpointResponse, error) {
	body, err := json.Marshal(map[string]any{"dataframe_records": req.DataframeRecords})
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", req.Name, err)
	}
	u := q.Host + "/serving-endpoints/" + url.PathEscape(req.Name) + "/invocations"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", req.Name, err)
	}
	hreq.Header.Set("Authorization", "Bearer "+q.Token)
	hreq.Header.Set("Content-Type", "application/json")
	client := q.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", req.Name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("query %s: status %d", req.Name, resp.StatusCode)
	}
	return &serving.QueryEndpointResponse{ServedModelName: resp.Header.Get("served-model-name")}, nil
}
