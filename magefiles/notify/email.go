package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"strconv"
	"strings"
	"time"
)

// Email sends a plain-text message over SMTP. It upgrades with STARTTLS
// whenever the server offers it and authenticates with AUTH PLAIN when a
// username is set. Credentials are never sent over an unencrypted link to a
// remote host (net/smtp refuses, which is what we want).
type Email struct {
	Host string
	// Port defaults to 587.
	Port     int
	Username string
	// Password is a secret.
	Password string
	From     string
	To       []string
	// ImplicitTLS dials TLS straight away (SMTPS, usually port 465)
	// instead of upgrading with STARTTLS.
	ImplicitTLS bool
	// TLSConfig verifies the server; nil means the system roots with Host as
	// the server name.
	TLSConfig *tls.Config
	// LocalName is sent in EHLO; defaults to "localhost".
	LocalName string
	// SubjectPrefix defaults to "[interrupt-agent]".
	SubjectPrefix string
}

// Name implements Channel.
func (m *Email) Name() string { return "email" }

func (m *Email) secrets() []string { return []string{m.Password} }

func (m *Email) addr() string {
	port := m.Port
	if port == 0 {
		port = 587
	}
	return net.JoinHostPort(m.Host, strconv.Itoa(port))
}

func (m *Email) tlsConfig() *tls.Config {
	if m.TLSConfig != nil {
		cfg := m.TLSConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = m.Host
		}
		return cfg
	}
	return &tls.Config{ServerName: m.Host, MinVersion: tls.VersionTLS12}
}

// Send implements Channel.
func (m *Email) Send(ctx context.Context, e Event) (string, error) {
	from, to, err := m.addresses()
	if err != nil {
		return "", err
	}
	msg, err := m.message(e, from, to)
	if err != nil {
		return "", err
	}
	if err := m.deliver(ctx, from.Address, to, msg); err != nil {
		return "", fmt.Errorf("e-mail via %s: %w", m.addr(), err)
	}
	return fmt.Sprintf("sent to %d recipient(s)", len(to)), nil
}

func (m *Email) addresses() (*mail.Address, []*mail.Address, error) {
	if m.Host == "" {
		return nil, nil, errors.New("e-mail: no SMTP host")
	}
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return nil, nil, fmt.Errorf("e-mail: sender %q: %w", m.From, err)
	}
	if len(m.To) == 0 {
		return nil, nil, errors.New("e-mail: no recipients")
	}
	to := make([]*mail.Address, 0, len(m.To))
	for _, raw := range m.To {
		a, err := mail.ParseAddress(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("e-mail: recipient %q: %w", raw, err)
		}
		to = append(to, a)
	}
	return from, to, nil
}

func (m *Email) deliver(ctx context.Context, from string, to []*mail.Address, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.addr())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	// SMTP has no context: a deadline plus a close on cancel bound every
	// read and write, so a silent server cannot hold us.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	raw := conn
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	defer stop()

	if m.ImplicitTLS {
		tlsConn := tls.Client(conn, m.tlsConfig())
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return fmt.Errorf("tls: %w", err)
		}
		conn = tlsConn
	}
	c, err := smtp.NewClient(conn, m.Host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("greeting: %w", ctxOr(ctx, err))
	}
	defer c.Close()

	localName := m.LocalName
	if localName == "" {
		localName = "localhost"
	}
	if err := c.Hello(localName); err != nil {
		return fmt.Errorf("ehlo: %w", ctxOr(ctx, err))
	}
	if !m.ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(m.tlsConfig()); err != nil {
				return fmt.Errorf("starttls: %w", ctxOr(ctx, err))
			}
		}
	}
	if m.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("auth: server offers no AUTH, but SMTP_USERNAME is set")
		}
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, m.Host)); err != nil {
			return fmt.Errorf("auth: %w", ctxOr(ctx, err))
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("mail from: %w", ctxOr(ctx, err))
	}
	for _, a := range to {
		if err := c.Rcpt(a.Address); err != nil {
			return fmt.Errorf("rcpt to %s: %w", a.Address, ctxOr(ctx, err))
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", ctxOr(ctx, err))
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("data: %w", ctxOr(ctx, err))
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", ctxOr(ctx, err))
	}
	// The message is accepted once DATA ends; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

// ctxOr prefers the context's reason over the "use of closed connection"
// that closing the socket produces.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
	}
	return err
}

func (m *Email) subject(e Event) string {
	prefix := m.SubjectPrefix
	if prefix == "" {
		prefix = "[" + DefaultSource + "]"
	}
	return prefix + " " + e.Headline()
}

// message renders the RFC 5322 message: headers, then a quoted-printable
// plain-text body, with CRLF line ends.
func (m *Email) message(e Event, from *mail.Address, to []*mail.Address) ([]byte, error) {
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	recipients := make([]string, len(to))
	for i, a := range to {
		recipients[i] = a.String()
	}

	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, headerValue(v)) }
	header("From", from.String())
	header("To", strings.Join(recipients, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", headerValue(m.subject(e))))
	header("Date", e.Time.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id)+"@"+DefaultSource+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")

	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(emailBody(e), "\n", "\r\n"))); err != nil {
		return nil, fmt.Errorf("e-mail body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("e-mail body: %w", err)
	}
	return b.Bytes(), nil
}

// headerValue folds any line breaks away, so event text cannot add headers.
func headerValue(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// emailBody is the plain-text body.
func emailBody(e Event) string {
	var b strings.Builder
	b.WriteString(e.Headline() + "\n")
	if e.Summary != "" {
		b.WriteString("\n" + e.Summary + "\n")
	}
	b.WriteString("\n")
	facts := eventFacts(e)
	width := 0
	for _, d := range facts {
		width = max(width, len(d.Key))
	}
	for _, d := range facts {
		fmt.Fprintf(&b, "%-*s  %s\n", width+1, d.Key+":", d.Value)
	}
	b.WriteString("\n")
	if e.URL != "" {
		b.WriteString("Run:  " + e.URL + "\n")
	}
	b.WriteString("Time: " + e.Time.UTC().Format(time.RFC3339) + "\n")
	return b.String()
}
