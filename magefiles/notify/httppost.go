package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/httpstatus"
)

// Retry policy shared by the HTTP channels: rate limits, server errors and
// network failures are retried; anything else is final.
const (
	defaultAttempts = 3
	defaultBackoff  = time.Second
	maxRetryAfter   = 10 * time.Second
	maxErrorBody    = 300
)

// defaultClient bounds a single request; the channel's context bounds all
// attempts together.
var defaultClient = &http.Client{Timeout: 10 * time.Second}

// poster posts JSON to one URL that must never be printed.
type poster struct {
	url      string
	client   *http.Client
	attempts int
	backoff  time.Duration
}

func retryable(err error) bool {
	if code, ok := httpstatus.Code(err); ok {
		return code == http.StatusTooManyRequests || code >= 500
	}
	return err != nil
}

// post sends payload until it succeeds, fails for good, runs out of
// attempts or ctx ends. It returns the successful response body.
func (p poster) post(ctx context.Context, payload any) ([]byte, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	attempts := p.attempts
	if attempts <= 0 {
		attempts = defaultAttempts
	}
	var lastErr error
	for attempt := 1; attempt <= attempts; attempt++ {
		respBody, wait, err := p.once(ctx, body)
		if err == nil {
			return respBody, nil
		}
		lastErr = err
		if ctx.Err() != nil || !retryable(err) || attempt == attempts {
			break
		}
		if wait == 0 {
			wait = p.backoff * time.Duration(attempt)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	if ctx.Err() != nil && !errors.Is(lastErr, ctx.Err()) {
		lastErr = fmt.Errorf("%w (%w)", lastErr, ctx.Err())
	}
	return nil, lastErr
}

// once makes one request. The error never contains the URL; wait is the
// server's Retry-After, if it sent one.
func (p poster) once(ctx context.Context, body []byte) (respBody []byte, wait time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		// url.Parse errors quote the URL: say only that it is malformed.
		return nil, 0, errors.New("malformed URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "interrupt-agent-release")
	client := p.client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, 0, fmt.Errorf("post %s: %w", safeURL(p.url), ue.Err)
		}
		return nil, 0, fmt.Errorf("post %s: %w", safeURL(p.url), err)
	}
	defer resp.Body.Close()
	respBody, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return nil, retryAfter(resp.Header.Get("Retry-After")), &httpstatus.Error{
			Code:    resp.StatusCode,
			Message: truncate(strings.TrimSpace(string(respBody)), maxErrorBody),
		}
	}
	return respBody, 0, nil
}

func retryAfter(v string) time.Duration {
	secs, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || secs <= 0 {
		return 0
	}
	return min(time.Duration(secs)*time.Second, maxRetryAfter)
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
