package notify

import (
	"context"
	"encoding/json"
	"testing"
)

func BenchmarkSlackMessage(b *testing.B) {
	e := sampleEvent(CanaryAborted, "prod")
	for b.Loop() {
		if _, err := json.Marshal(slackMessage(e)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendAllChannels measures one event through Slack, PagerDuty and
// e-mail (STARTTLS + AUTH) against local servers.
func BenchmarkSendAllChannels(b *testing.B) {
	hook := startHook(b)
	serverTLS, clientTLS := selfSigned(b)
	srv := startSMTP(b, &smtpServer{tls: serverTLS, user: "bot", pass: "pw-123456"})
	n := New(
		&Slack{WebhookURL: hook.URL + "/services/T/B/X"},
		&PagerDuty{RoutingKey: "rk-123456", EventsURL: hook.URL},
		&Email{Host: "127.0.0.1", Port: srv.port(), Username: "bot", Password: "pw-123456", TLSConfig: clientTLS,
			From: "bot@example.test", To: []string{"oncall@example.test"}},
	)
	e := sampleEvent(CanaryAborted, "prod")
	for b.Loop() {
		if err := n.Send(context.Background(), e).Err(); err != nil {
			b.Fatal(err)
		}
	}
}
