package notify

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const pdAccepted = `{"status":"success","message":"Event processed","dedup_key":"x"}`

func TestPagerDutyTriggers(t *testing.T) {
	tests := []struct {
		kind     Kind
		severity string
	}{
		{DeployFailed, "error"},
		{CanaryAborted, "error"},
		{RollbackFailed, "critical"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			hook := startHook(t, reply{status: 202, body: pdAccepted})
			p := &PagerDuty{RoutingKey: "R0UTINGKEY", EventsURL: hook.URL + "/v2/enqueue"}

			detail, err := p.Send(context.Background(), sampleEvent(tt.kind, "prod"))
			require.NoError(t, err)
			assert.Equal(t, "triggered interrupt-agent/prod/v1.2.0", detail)

			reqs := hook.requests()
			require.Len(t, reqs, 1)
			ev := reqs[0]
			assert.Equal(t, "/v2/enqueue", hook.paths[0])
			assert.Equal(t, "R0UTINGKEY", ev["routing_key"])
			assert.Equal(t, "trigger", ev["event_action"])
			assert.Equal(t, "interrupt-agent/prod/v1.2.0", ev["dedup_key"])
			assert.Equal(t, tt.kind.Title()+": prod v1.2.0: Canary error rate 4.2% > 1% for 3 analyses; traffic back on v1.1.0.",
				path(ev, "payload", "summary"))
			assert.Equal(t, "interrupt-agent-prod", path(ev, "payload", "source"))
			assert.Equal(t, tt.severity, path(ev, "payload", "severity"))
			assert.Equal(t, "2025-03-14T15:09:26Z", path(ev, "payload", "timestamp"))
			assert.Equal(t, "prod", path(ev, "payload", "group"))
			assert.Equal(t, string(tt.kind), path(ev, "payload", "class"))
			assert.Equal(t, map[string]any{
				"Environment":   "prod",
				"Release":       "v1.2.0",
				"Model version": "7",
				"Endpoint":      "interrupt-agent-prod",
				"Canary weight": "10%",
			}, path(ev, "payload", "custom_details"))
			assert.Equal(t, "https://ci.example.test/runs/42", path(ev, "links", 0, "href"))
			assert.Equal(t, "https://ci.example.test/runs/42", ev["client_url"])
		})
	}
}

func TestPagerDutyResolves(t *testing.T) {
	tests := []struct {
		name    string
		event   Event
		wantKey string
	}{
		{
			name:    "rollback resolves the release it replaced",
			event:   Event{Kind: RollbackDone, Env: "prod", Release: "v1.1.0", Resolves: "v1.2.0", Time: fixedTime},
			wantKey: "interrupt-agent/prod/v1.2.0",
		},
		{
			name:    "a successful deploy resolves its own release",
			event:   Event{Kind: DeploySucceeded, Env: "prod", Release: "v1.2.0", Time: fixedTime},
			wantKey: "interrupt-agent/prod/v1.2.0",
		},
		{
			name:    "a fix-forward deploy resolves the failed release",
			event:   Event{Kind: DeploySucceeded, Env: "production", Release: "v1.2.1", Resolves: "v1.2.0", Time: fixedTime},
			wantKey: "interrupt-agent/production/v1.2.0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hook := startHook(t, reply{status: 202, body: pdAccepted})
			p := &PagerDuty{RoutingKey: "R0UTINGKEY", EventsURL: hook.URL}

			detail, err := p.Send(context.Background(), tt.event)
			require.NoError(t, err)
			assert.Equal(t, "resolved "+tt.wantKey, detail)
			reqs := hook.requests()
			require.Len(t, reqs, 1)
			// A resolve carries only what the API needs to find the incident.
			assert.Equal(t, map[string]any{
				"routing_key":  "R0UTINGKEY",
				"event_action": "resolve",
				"dedup_key":    tt.wantKey,
			}, reqs[0])
		})
	}
}

func TestPagerDutySkips(t *testing.T) {
	tests := []struct {
		name   string
		event  Event
		reason string
	}{
		{"failures outside production do not page", sampleEvent(DeployFailed, "staging"), "only production pages, not staging"},
		{"recoveries outside production resolve nothing", sampleEvent(RollbackDone, "dev"), "only production pages, not dev"},
		{"a deploy start does not page", sampleEvent(DeployStarted, "prod"), "deploy_started does not page"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hook := startHook(t)
			p := &PagerDuty{RoutingKey: "R0UTINGKEY", EventsURL: hook.URL}
			_, err := p.Send(context.Background(), tt.event)
			var skip *SkipError
			require.True(t, errors.As(err, &skip), "want a skip, got %v", err)
			assert.Equal(t, tt.reason, skip.Reason)
			assert.Empty(t, hook.requests())
		})
	}
}

func TestPagerDutyPageEnvs(t *testing.T) {
	hook := startHook(t, reply{status: 202, body: pdAccepted})
	p := &PagerDuty{RoutingKey: "R0UTINGKEY", EventsURL: hook.URL, PageEnvs: []string{"staging"}, Source: "agent"}
	detail, err := p.Send(context.Background(), sampleEvent(CanaryAborted, "staging"))
	require.NoError(t, err)
	assert.Equal(t, "triggered agent/staging/v1.2.0", detail)
}

func TestPagerDutyFailures(t *testing.T) {
	tests := []struct {
		name     string
		replies  []reply
		wantErr  string
		attempts int
	}{
		{
			name:     "invalid event is not retried",
			replies:  []reply{{status: 400, body: `{"status":"invalid event","message":"Event object is invalid"}`}},
			wantErr:  `pagerduty trigger interrupt-agent/prod/v1.2.0: HTTP 400 Bad Request: {"status":"invalid event"`,
			attempts: 1,
		},
		{
			name:     "server errors are retried, then reported",
			replies:  []reply{{status: 502, body: "bad gateway"}},
			wantErr:  "HTTP 502 Bad Gateway: bad gateway",
			attempts: 3,
		},
		{
			name:     "rate limit is retried until accepted",
			replies:  []reply{{status: 429, body: "slow down", header: map[string]string{"Retry-After": "junk"}}, {status: 202, body: pdAccepted}},
			attempts: 2,
		},
		{
			name:     "2xx with a non-success status is a failure",
			replies:  []reply{{status: 202, body: `{"status":"throttled"}`}},
			wantErr:  `status "throttled"`,
			attempts: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hook := startHook(t, tt.replies...)
			p := &PagerDuty{RoutingKey: "R0UTINGKEY", EventsURL: hook.URL, Backoff: time.Millisecond}
			_, err := p.Send(context.Background(), sampleEvent(CanaryAborted, "prod"))
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
			}
			assert.Len(t, hook.requests(), tt.attempts)
		})
	}
}

func TestPagerDutyConnectionRefused(t *testing.T) {
	p := &PagerDuty{RoutingKey: "R0UTINGKEY", EventsURL: "http://" + refusedAddr(t) + "/v2/enqueue", Attempts: 2, Backoff: time.Millisecond}
	_, err := p.Send(context.Background(), sampleEvent(RollbackFailed, "prod"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection refused")
}
