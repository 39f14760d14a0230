package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlackPostsBlockKitMessage(t *testing.T) {
	hook := startHook(t)
	s := &Slack{WebhookURL: hook.URL + "/services/T000/B000/XXXX"}

	detail, err := s.Send(context.Background(), sampleEvent(CanaryAborted, "prod"))
	require.NoError(t, err)
	assert.Equal(t, "posted", detail)

	reqs := hook.requests()
	require.Len(t, reqs, 1)
	msg := reqs[0]
	assert.Equal(t, "/services/T000/B000/XXXX", hook.paths[0])
	assert.Equal(t, "🛑 Canary aborted: prod v1.2.0", msg["text"])

	assert.Equal(t, "header", path(msg, "blocks", 0, "type"))
	assert.Equal(t, "plain_text", path(msg, "blocks", 0, "text", "type"))
	assert.Equal(t, "🛑 Canary aborted: prod v1.2.0", path(msg, "blocks", 0, "text", "text"))

	assert.Equal(t, "section", path(msg, "blocks", 1, "type"))
	assert.Equal(t, "mrkdwn", path(msg, "blocks", 1, "text", "type"))
	assert.Equal(t, "Canary error rate 4.2% &gt; 1% for 3 analyses; traffic back on v1.1.0.", path(msg, "blocks", 1, "text", "text"))

	assert.Equal(t, "section", path(msg, "blocks", 2, "type"))
	var fields []string
	for _, f := range path(msg, "blocks", 2, "fields").([]any) {
		assert.Equal(t, "mrkdwn", path(f, "type"))
		fields = append(fields, path(f, "text").(string))
	}
	assert.Equal(t, []string{
		"*Environment*\nprod",
		"*Release*\nv1.2.0",
		"*Model version*\n7",
		"*Endpoint*\ninterrupt-agent-prod",
		"*Canary weight*\n10%",
	}, fields)

	assert.Equal(t, "context", path(msg, "blocks", 3, "type"))
	assert.Equal(t, "2025-03-14 15:09:26 UTC", path(msg, "blocks", 3, "elements", 0, "text"))
	assert.Equal(t, "<https://ci.example.test/runs/42|View run>", path(msg, "blocks", 3, "elements", 1, "text"))
	assert.Nil(t, path(msg, "blocks", 4))
}

func TestSlackMessageLimits(t *testing.T) {
	tests := []struct {
		name  string
		event Event
		check func(t *testing.T, p slackPayload)
	}{
		{
			name:  "mrkdwn control characters are escaped",
			event: Event{Kind: DeployFailed, Env: "dev", Summary: "a <b> & c", Details: []Detail{{"x<y", "1 & 2"}}},
			check: func(t *testing.T, p slackPayload) {
				assert.Equal(t, "a &lt;b&gt; &amp; c", p.Blocks[1].Text.Text)
				assert.Equal(t, "*x&lt;y*\n1 &amp; 2", p.Blocks[2].Fields[1].Text)
			},
		},
		{
			name:  "long header is cut to 150 characters",
			event: Event{Kind: DeployStarted, Env: "dev", Release: strings.Repeat("v", 300)},
			check: func(t *testing.T, p slackPayload) {
				assert.Len(t, []rune(p.Blocks[0].Text.Text), slackHeaderMax)
				assert.True(t, strings.HasSuffix(p.Blocks[0].Text.Text, "…"))
			},
		},
		{
			name:  "more than ten fields spill into another section",
			event: Event{Kind: DeployStarted, Env: "dev", Details: manyDetails(12)},
			check: func(t *testing.T, p slackPayload) {
				// header, fields (10), fields (3), context; no summary block.
				require.Len(t, p.Blocks, 4)
				assert.Len(t, p.Blocks[1].Fields, 10)
				assert.Len(t, p.Blocks[2].Fields, 3)
			},
		},
		{
			name:  "no summary and no url leave those parts out",
			event: Event{Kind: RollbackDone, Env: "prod", Release: "v1.1.0"},
			check: func(t *testing.T, p slackPayload) {
				require.Len(t, p.Blocks, 3)
				assert.Equal(t, "section", p.Blocks[1].Type)
				assert.Nil(t, p.Blocks[1].Text)
				assert.Len(t, p.Blocks[2].Elements, 1)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, slackMessage(tt.event))
		})
	}
}

func manyDetails(n int) []Detail {
	out := make([]Detail, n)
	for i := range out {
		out[i] = Detail{fmt.Sprintf("k%d", i), "v"}
	}
	return out
}

func TestSlackFailures(t *testing.T) {
	tests := []struct {
		name     string
		replies  []reply
		wantErr  string
		attempts int
	}{
		{"server error is retried then fails", []reply{{status: 500, body: "boom"}}, "HTTP 500 Internal Server Error: boom", 3},
		{"rejected payload is not retried", []reply{{status: 400, body: "invalid_payload"}}, "HTTP 400 Bad Request: invalid_payload", 1},
		{"revoked webhook is not retried", []reply{{status: 403, body: "invalid_token"}}, "HTTP 403 Forbidden: invalid_token", 1},
		{"rate limit then success", []reply{{status: 429, body: "rate_limited"}, {status: 200, body: "ok"}}, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hook := startHook(t, tt.replies...)
			s := &Slack{WebhookURL: hook.URL + "/services/T1/B1/SECRETTOKEN", Backoff: time.Millisecond}
			_, err := s.Send(context.Background(), sampleEvent(DeployFailed, "dev"))
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), "SECRETTOKEN")
			}
			assert.Len(t, hook.requests(), tt.attempts)
		})
	}
}

func TestSlackConnectionRefused(t *testing.T) {
	s := &Slack{WebhookURL: "http://" + refusedAddr(t) + "/services/T1/B1/SECRETTOKEN", Backoff: time.Millisecond}
	_, err := s.Send(context.Background(), sampleEvent(DeployStarted, "dev"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection refused")
	assert.NotContains(t, err.Error(), "SECRETTOKEN")
	assert.NotContains(t, err.Error(), "/services/")
}

func TestSlackHonoursDeadline(t *testing.T) {
	hang := make(chan struct{})
	srv := startHookFunc(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-hang:
		}
	})
	t.Cleanup(func() { close(hang) })
	n := New(&Slack{WebhookURL: srv.URL + "/hook/SECRETTOKEN", Backoff: time.Millisecond})
	n.Timeout = 100 * time.Millisecond

	report := n.Send(context.Background(), sampleEvent(DeployStarted, "dev"))
	require.Len(t, report.Results, 1)
	assert.Equal(t, Failed, report.Results[0].Status)
	assert.Contains(t, report.Results[0].Detail, "timed out after 100ms")
}
