package notify

import (
	"context"
	"crypto/tls"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEmailDelivers(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	tests := []struct {
		name     string
		server   *smtpServer
		email    func(port int) *Email
		wantTLS  bool
		wantUser string
	}{
		{
			name:   "STARTTLS and AUTH PLAIN",
			server: &smtpServer{tls: serverTLS, user: "release-bot", pass: "s3cr3t-pass"},
			email: func(port int) *Email {
				return &Email{Port: port, Username: "release-bot", Password: "s3cr3t-pass", TLSConfig: clientTLS}
			},
			wantTLS:  true,
			wantUser: "release-bot",
		},
		{
			name:   "implicit TLS",
			server: &smtpServer{tls: serverTLS, implicit: true, user: "release-bot", pass: "s3cr3t-pass"},
			email: func(port int) *Email {
				return &Email{Port: port, Username: "release-bot", Password: "s3cr3t-pass", TLSConfig: clientTLS, ImplicitTLS: true}
			},
			wantTLS:  true,
			wantUser: "release-bot",
		},
		{
			name:    "STARTTLS without credentials",
			server:  &smtpServer{tls: serverTLS},
			email:   func(port int) *Email { return &Email{Port: port, TLSConfig: clientTLS} },
			wantTLS: true,
		},
		{
			name:   "plain relay with neither TLS nor auth",
			server: &smtpServer{},
			email:  func(port int) *Email { return &Email{Port: port} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, tt.server)
			m := tt.email(srv.port())
			m.Host = "127.0.0.1"
			m.From = "Release Bot <release@example.test>"
			m.To = []string{"oncall@example.test", "Ops Team <ops@example.test>"}

			detail, err := m.Send(context.Background(), sampleEvent(CanaryAborted, "prod"))
			require.NoError(t, err)
			assert.Equal(t, "sent to 2 recipient(s)", detail)

			msgs := srv.messages()
			require.Len(t, msgs, 1)
			got := msgs[0]
			assert.Equal(t, tt.wantTLS, got.TLS)
			assert.Equal(t, tt.wantUser, got.AuthUser)
			assert.Equal(t, "release@example.test", got.From)
			assert.Equal(t, []string{"oncall@example.test", "ops@example.test"}, got.To)

			msg, err := mail.ReadMessage(strings.NewReader(got.Data))
			require.NoError(t, err)
			assert.Equal(t, `"Release Bot" <release@example.test>`, msg.Header.Get("From"))
			assert.Equal(t, `<oncall@example.test>, "Ops Team" <ops@example.test>`, msg.Header.Get("To"))
			subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			require.NoError(t, err)
			assert.Equal(t, "[interrupt-agent] Canary aborted: prod v1.2.0", subject)
			assert.Equal(t, "Fri, 14 Mar 2025 15:09:26 +0000", msg.Header.Get("Date"))
			assert.Equal(t, "text/plain; charset=utf-8", msg.Header.Get("Content-Type"))
			assert.Regexp(t, `^<[0-9a-f]{24}@interrupt-agent>$`, msg.Header.Get("Message-ID"))

			body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
			require.NoError(t, err)
			// The server's dot reader turns the wire's CRLF into LF.
			assert.Equal(t, `Canary aborted: prod v1.2.0

Canary error rate 4.2% > 1% for 3 analyses; traffic back on v1.1.0.

Environment:    prod
Release:        v1.2.0
Model version:  7
Endpoint:       interrupt-agent-prod
Canary weight:  10%

Run:  https://ci.example.test/runs/42
Time: 2025-03-14T15:09:26Z
`, string(body))
		})
	}
}

func TestEmailHeaderInjection(t *testing.T) {
	srv := startSMTP(t, &smtpServer{})
	m := &Email{Host: "127.0.0.1", Port: srv.port(), From: "a@example.test", To: []string{"b@example.test"}}
	e := sampleEvent(DeployFailed, "dev\r\nBcc: victim@example.test")
	_, err := m.Send(context.Background(), e)
	require.NoError(t, err)
	msg, err := mail.ReadMessage(strings.NewReader(srv.messages()[0].Data))
	require.NoError(t, err)
	assert.Empty(t, msg.Header.Get("Bcc"))
}

func TestEmailFailures(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	tests := []struct {
		name    string
		server  *smtpServer
		email   Email
		wantErr string
	}{
		{
			name:    "wrong password",
			server:  &smtpServer{tls: serverTLS, user: "bot", pass: "right-pass"},
			email:   Email{Username: "bot", Password: "wrong-pass", TLSConfig: clientTLS},
			wantErr: `auth: 535 "5.7.8 authentication failed"`,
		},
		{
			name:    "credentials set but server offers no AUTH",
			server:  &smtpServer{tls: serverTLS},
			email:   Email{Username: "bot", Password: "pass", TLSConfig: clientTLS},
			wantErr: "server offers no AUTH, but SMTP_USERNAME is set",
		},
		{
			name:    "untrusted certificate is not downgraded to plain text",
			server:  &smtpServer{tls: serverTLS},
			email:   Email{TLSConfig: &tls.Config{}},
			wantErr: "starttls: tls: failed to verify certificate",
		},
		{
			name:    "recipient rejected",
			server:  &smtpServer{rejectRcpt: "ops@example.test"},
			email:   Email{},
			wantErr: `rcpt to ops@example.test: 550 "5.1.1 no such user"`,
		},
		{
			name:    "auth required but not configured",
			server:  &smtpServer{tls: serverTLS, user: "bot", pass: "pass"},
			email:   Email{TLSConfig: clientTLS},
			wantErr: `mail from: 530 "5.7.0 authentication required"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, tt.server)
			m := tt.email
			m.Host, m.Port = "127.0.0.1", srv.port()
			m.From, m.To = "release@example.test", []string{"oncall@example.test", "ops@example.test"}
			_, err := m.Send(context.Background(), sampleEvent(DeployFailed, "prod"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, err.Error(), "e-mail via 127.0.0.1:")
			assert.Empty(t, srv.messages())
		})
	}
}

func TestEmailBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		email   Email
		wantErr string
	}{
		{"no host", Email{From: "a@example.test", To: []string{"b@example.test"}}, "no SMTP host"},
		{"bad sender", Email{Host: "h", From: "not an address", To: []string{"b@example.test"}}, `sender "not an address"`},
		{"no recipients", Email{Host: "h", From: "a@example.test"}, "no recipients"},
		{"bad recipient", Email{Host: "h", From: "a@example.test", To: []string{"b@"}}, `recipient "b@"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.email.Send(context.Background(), sampleEvent(DeployFailed, "prod"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestEmailConnectionRefused(t *testing.T) {
	addr := refusedAddr(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	n := FromEnv(mapEnv(map[string]string{
		EnvSMTPHost: "127.0.0.1", EnvSMTPPort: port,
		EnvEmailFrom: "a@example.test", EnvEmailTo: "b@example.test",
	}))
	r := n.Send(context.Background(), sampleEvent(DeployFailed, "prod"))
	res := r.Results[2]
	assert.Equal(t, "email", res.Channel)
	assert.Equal(t, Failed, res.Status)
	assert.Contains(t, res.Detail, "connect: dial tcp "+addr)
	assert.Contains(t, res.Detail, "connection refused")
}

func TestEmailSilentServerTimesOut(t *testing.T) {
	srv := startSMTP(t, &smtpServer{silent: true})
	n := New(&Email{Host: "127.0.0.1", Port: srv.port(), From: "a@example.test", To: []string{"b@example.test"}})
	n.Timeout = 100 * time.Millisecond
	r := n.Send(context.Background(), sampleEvent(DeployFailed, "prod"))
	require.Len(t, r.Results, 1)
	assert.Equal(t, Failed, r.Results[0].Status)
	assert.Contains(t, r.Results[0].Detail, "timed out after 100ms")
}
