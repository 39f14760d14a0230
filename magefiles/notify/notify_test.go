package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// fakeChannel is a Channel whose behaviour a test chooses.
type fakeChannel struct {
	name string
	send func(ctx context.Context, e Event) (string, error)
}

func (f fakeChannel) Name() string { return f.name }
func (f fakeChannel) Send(ctx context.Context, e Event) (string, error) {
	return f.send(ctx, e)
}

func TestFromEnvSkipsUnconfiguredChannels(t *testing.T) {
	r := FromEnv(mapEnv(nil)).Send(context.Background(), sampleEvent(DeploySucceeded, "dev"))
	assert.Equal(t, []Result{
		{Channel: "slack", Status: Skipped, Detail: "set SLACK_WEBHOOK_URL to post to Slack"},
		{Channel: "pagerduty", Status: Skipped, Detail: "set PAGERDUTY_ROUTING_KEY to page on production failures"},
		{Channel: "email", Status: Skipped, Detail: "set SMTP_HOST, NOTIFY_EMAIL_FROM and NOTIFY_EMAIL_TO to send e-mail"},
	}, r.Results)
	assert.NoError(t, r.Err())
	assert.Empty(t, r.Failed())
}

func TestFromEnvBuildsChannels(t *testing.T) {
	n := FromEnv(mapEnv(map[string]string{
		EnvSlackWebhookURL:     " https://hooks.example.test/services/T/B/X ",
		EnvPagerDutyRoutingKey: "rk-123456",
		EnvPagerDutyEventsURL:  "http://127.0.0.1:9/v2/enqueue",
		EnvSMTPHost:            "smtp.example.test",
		EnvSMTPPort:            "465",
		EnvSMTPUsername:        "bot",
		EnvSMTPPassword:        "pw-123456",
		EnvEmailFrom:           "bot@example.test",
		EnvEmailTo:             "a@example.test, b@example.test,",
	}))
	require.Len(t, n.Channels, 3)
	assert.Equal(t, &Slack{WebhookURL: "https://hooks.example.test/services/T/B/X"}, n.Channels[0])
	assert.Equal(t, &PagerDuty{RoutingKey: "rk-123456", EventsURL: "http://127.0.0.1:9/v2/enqueue"}, n.Channels[1])
	assert.Equal(t, &Email{
		Host: "smtp.example.test", Port: 465, ImplicitTLS: true, Username: "bot", Password: "pw-123456",
		From: "bot@example.test", To: []string{"a@example.test", "b@example.test"},
	}, n.Channels[2])
}

func TestFromEnvMisconfiguration(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		channel int
		want    string
	}{
		{"slack URL that is not a URL", map[string]string{EnvSlackWebhookURL: "hooks/T/B/SECRETPART"}, 0,
			"SLACK_WEBHOOK_URL is not an http(s) URL"},
		{"pagerduty events URL that is not a URL", map[string]string{EnvPagerDutyRoutingKey: "rk-123456", EnvPagerDutyEventsURL: "ftp://x"}, 1,
			"PAGERDUTY_EVENTS_URL is not an http(s) URL"},
		{"e-mail half configured", map[string]string{EnvSMTPHost: "smtp.example.test"}, 2,
			"set NOTIFY_EMAIL_FROM and NOTIFY_EMAIL_TO too (e-mail is half configured)"},
		{"password without user", map[string]string{EnvSMTPHost: "h", EnvEmailFrom: "a@example.test", EnvEmailTo: "b@example.test", EnvSMTPPassword: "SECRETPART"}, 2,
			"SMTP_PASSWORD is set but SMTP_USERNAME is not"},
		{"port that is not a number", map[string]string{EnvSMTPHost: "h", EnvEmailFrom: "a@example.test", EnvEmailTo: "b@example.test", EnvSMTPPort: "smtp"}, 2,
			`SMTP_PORT="smtp" is not a port number`},
		{"recipient that is not an address", map[string]string{EnvSMTPHost: "h", EnvEmailFrom: "a@example.test", EnvEmailTo: "b@example.test, nope"}, 2,
			`e-mail: recipient "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := FromEnv(mapEnv(tt.env)).Send(context.Background(), sampleEvent(DeployFailed, "prod"))
			res := r.Results[tt.channel]
			assert.Equal(t, Failed, res.Status)
			assert.Contains(t, res.Detail, tt.want)
			assert.NotContains(t, r.String(), "SECRETPART")
			problems := FromEnv(mapEnv(tt.env)).Problems()
			require.Error(t, problems, "a broken setting is a problem before anything is sent")
			assert.Contains(t, problems.Error(), tt.want)
			assert.NotContains(t, problems.Error(), "SECRETPART")
		})
	}
}

func TestProblemsNoneWhenConfiguredOrUnset(t *testing.T) {
	assert.NoError(t, FromEnv(mapEnv(nil)).Problems(), "unset channels are skipped, not problems")
	assert.NoError(t, FromEnv(mapEnv(map[string]string{
		EnvSlackWebhookURL: "https://hooks.example.test/services/T/B/X", EnvPagerDutyRoutingKey: "rk-1",
	})).Problems())
}

func TestSendReportsEveryChannelInOrder(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	n := New(
		fakeChannel{"slow", func(ctx context.Context, _ Event) (string, error) {
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			return "done late", nil
		}},
		fakeChannel{"stubborn", func(context.Context, Event) (string, error) {
			<-release // ignores its context entirely
			return "never", nil
		}},
		fakeChannel{"panicky", func(context.Context, Event) (string, error) { panic("boom") }},
		fakeChannel{"skipper", func(context.Context, Event) (string, error) { return "", Skip("not for %s", "dev") }},
		fakeChannel{"broken", func(context.Context, Event) (string, error) { return "", fmt.Errorf("nope") }},
	)
	n.Timeout = 200 * time.Millisecond

	r := n.Send(context.Background(), sampleEvent(DeployStarted, "dev"))
	assert.Equal(t, []Result{
		{Channel: "slow", Status: Sent, Detail: "done late"},
		{Channel: "stubborn", Status: Failed, Detail: "timed out after 200ms: context deadline exceeded"},
		{Channel: "panicky", Status: Failed, Detail: "panic: boom"},
		{Channel: "skipper", Status: Skipped, Detail: "not for dev"},
		{Channel: "broken", Status: Failed, Detail: "nope"},
	}, r.Results)
	assert.Len(t, r.Failed(), 3)
	require.Error(t, r.Err())
	assert.Equal(t, "notify stubborn: timed out after 200ms: context deadline exceeded\nnotify panicky: panic: boom\nnotify broken: nope", r.Err().Error())
}

func TestSendStopsWhenCallerCancels(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := New(fakeChannel{"waits", func(ctx context.Context, _ Event) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}})
	r := n.Send(ctx, sampleEvent(DeployStarted, "dev"))
	assert.Equal(t, Failed, r.Results[0].Status)
	assert.Equal(t, "stopped: context canceled", r.Results[0].Detail)
}

func TestSendRejectsInvalidEvents(t *testing.T) {
	called := false
	n := New(fakeChannel{"c", func(context.Context, Event) (string, error) { called = true; return "", nil }})
	r := n.Send(context.Background(), Event{Kind: "deploy_exploded"})
	assert.False(t, called)
	assert.Equal(t, Failed, r.Results[0].Status)
	assert.Equal(t, "invalid event: unknown event kind \"deploy_exploded\"\nevent has no environment", r.Results[0].Detail)
}

func TestSendStampsTime(t *testing.T) {
	var got time.Time
	n := New(fakeChannel{"c", func(_ context.Context, e Event) (string, error) { got = e.Time; return "", nil }})
	n.Now = func() time.Time { return time.Date(2025, 1, 2, 4, 4, 5, 0, time.FixedZone("X", 3600)) }
	n.Send(context.Background(), Event{Kind: DeployStarted, Env: "dev"})
	assert.Equal(t, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), got)
	assert.Equal(t, time.UTC, got.Location())
}

func TestReportString(t *testing.T) {
	r := Report{
		Event: Event{Kind: CanaryAborted, Env: "prod", Release: "v1.2.0"},
		Results: []Result{
			{Channel: "slack", Status: Sent, Detail: "posted"},
			{Channel: "pagerduty", Status: Failed, Detail: "HTTP 500 Internal Server Error:\n  boom"},
			{Channel: "email", Status: Skipped, Detail: "set SMTP_HOST"},
		},
	}
	assert.Equal(t, `notify Canary aborted: prod v1.2.0
  slack      sent     posted
  pagerduty  failed   HTTP 500 Internal Server Error: boom
  email      skipped  set SMTP_HOST
`, r.String())
}

func TestKinds(t *testing.T) {
	for _, k := range Kinds {
		assert.NotEqual(t, string(k), k.Title(), "kind %s needs a title", k)
		assert.NotEmpty(t, k.emoji())
	}
	assert.True(t, CanaryAborted.Failure())
	assert.False(t, DeploySucceeded.Failure())
	assert.Equal(t, "mystery", Kind("mystery").Title())
}

// TestSecretsNeverLeak plants secret values in the environment, points every
// channel at a server that echoes them back in its error, and checks that
// no report, error or rendered text contains them.
func TestSecretsNeverLeak(t *testing.T) {
	const (
		slackToken = "PLANTED-slack-token-5f3a9c"
		routingKey = "PLANTED-routing-key-8d2e71"
		smtpPass   = "PLANTED-smtp-pass-0b6c44"
	)
	// Both HTTP servers echo the request back in a failure.
	echo := startHookFunc(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev map[string]any
		_ = json.Unmarshal(body, &ev)
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "bad request to %s for key %v", r.URL.String(), ev["routing_key"])
	})
	smtp := startSMTP(t, &smtpServer{user: "bot", pass: "other", authReply: "bad password " + smtpPass})

	env := map[string]string{
		EnvSlackWebhookURL:     echo.URL + "/services/T0/B0/" + slackToken,
		EnvPagerDutyRoutingKey: routingKey,
		EnvPagerDutyEventsURL:  echo.URL + "/v2/enqueue",
		EnvSMTPHost:            "127.0.0.1",
		EnvSMTPPort:            fmt.Sprint(smtp.port()),
		EnvSMTPUsername:        "bot",
		EnvSMTPPassword:        smtpPass,
		EnvEmailFrom:           "bot@example.test",
		EnvEmailTo:             "oncall@example.test",
	}
	n := FromEnv(mapEnv(env))
	r := n.Send(context.Background(), sampleEvent(CanaryAborted, "prod"))

	for _, res := range r.Results {
		assert.Equal(t, Failed, res.Status, res.Channel)
	}
	// The whole webhook path is the credential, so all of it goes.
	assert.Contains(t, r.Results[0].Detail, "bad request to /***")
	assert.Contains(t, r.Results[1].Detail, "for key ***")
	assert.Contains(t, r.Results[2].Detail, "bad password ***")

	outputs := []string{r.String(), r.Err().Error(), fmt.Sprintf("%+v", r), fmt.Sprintf("%#v", r)}
	for _, out := range outputs {
		for _, secret := range []string{slackToken, routingKey, smtpPass, env[EnvSlackWebhookURL]} {
			assert.NotContains(t, out, secret)
		}
	}
}

func TestWebhookSecrets(t *testing.T) {
	assert.Equal(t,
		[]string{"https://u:pw@hooks.example.test/services/T/B/X?token=q", "services/T/B/X", "token=q", "pw"},
		webhookSecrets("https://u:pw@hooks.example.test/services/T/B/X?token=q"))
	assert.Equal(t, "https://hooks.example.test", safeURL("https://hooks.example.test/services/T/B/X"))
	assert.Equal(t, "(url)", safeURL("::"))
	assert.False(t, strings.Contains(safeURL("http://h/p?q=1"), "q=1"))
}

func TestNotifierLiteralStillMasksChannelSecrets(t *testing.T) {
	echo := startHookFunc(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "no such hook %s", r.URL.Path)
	})
	n := &Notifier{Channels: []Channel{&Slack{WebhookURL: echo.URL + "/hooks/PLANTED-token-77", Backoff: time.Millisecond}}}
	r := n.Send(context.Background(), sampleEvent(DeployStarted, "dev"))
	assert.Equal(t, Failed, r.Results[0].Status)
	assert.Equal(t, "slack webhook: HTTP 403 Forbidden: no such hook /***", r.Results[0].Detail)
}
