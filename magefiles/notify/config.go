package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// The environment variables FromEnv reads.
const (
	EnvSlackWebhookURL     = "SLACK_WEBHOOK_URL"
	EnvPagerDutyRoutingKey = "PAGERDUTY_ROUTING_KEY"
	EnvPagerDutyEventsURL  = "PAGERDUTY_EVENTS_URL"
	EnvSMTPHost            = "SMTP_HOST"
	EnvSMTPPort            = "SMTP_PORT"
	EnvSMTPUsername        = "SMTP_USERNAME"
	EnvSMTPPassword        = "SMTP_PASSWORD"
	EnvEmailFrom           = "NOTIFY_EMAIL_FROM"
	EnvEmailTo             = "NOTIFY_EMAIL_TO"
)

// FromEnv builds a Notifier with Slack, PagerDuty and e-mail, each configured
// from getenv (os.Getenv in production). A channel with no settings is
// skipped on Send with the variable to set; a channel with broken settings
// fails on Send with what is wrong. Values are never echoed.
func FromEnv(getenv func(string) string) *Notifier {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	n := New(slackFromEnv(get), pagerDutyFromEnv(get), emailFromEnv(get))
	// Mask the raw values too, whatever state their channel ended up in.
	n.AddSecrets(webhookSecrets(get(EnvSlackWebhookURL))...)
	n.AddSecrets(get(EnvPagerDutyRoutingKey), get(EnvSMTPPassword))
	return n
}

func slackFromEnv(get func(string) string) Channel {
	raw := get(EnvSlackWebhookURL)
	if raw == "" {
		return unconfigured{"slack", "set " + EnvSlackWebhookURL + " to post to Slack"}
	}
	if !isHTTPURL(raw) {
		return misconfigured{"slack", errors.New(EnvSlackWebhookURL + " is not an http(s) URL")}
	}
	return &Slack{WebhookURL: raw}
}

func pagerDutyFromEnv(get func(string) string) Channel {
	key := get(EnvPagerDutyRoutingKey)
	if key == "" {
		return unconfigured{"pagerduty", "set " + EnvPagerDutyRoutingKey + " to page on production failures"}
	}
	eventsURL := get(EnvPagerDutyEventsURL)
	if eventsURL != "" && !isHTTPURL(eventsURL) {
		return misconfigured{"pagerduty", errors.New(EnvPagerDutyEventsURL + " is not an http(s) URL")}
	}
	return &PagerDuty{RoutingKey: key, EventsURL: eventsURL}
}

func emailFromEnv(get func(string) string) Channel {
	host, from, to := get(EnvSMTPHost), get(EnvEmailFrom), get(EnvEmailTo)
	user, pass := get(EnvSMTPUsername), get(EnvSMTPPassword)
	if host == "" && from == "" && to == "" {
		return unconfigured{"email", fmt.Sprintf("set %s, %s and %s to send e-mail", EnvSMTPHost, EnvEmailFrom, EnvEmailTo)}
	}
	var missing []string
	for _, v := range []struct{ name, value string }{{EnvSMTPHost, host}, {EnvEmailFrom, from}, {EnvEmailTo, to}} {
		if v.value == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		return misconfigured{"email", fmt.Errorf("set %s too (e-mail is half configured)", strings.Join(missing, " and "))}
	}
	if pass != "" && user == "" {
		return misconfigured{"email", fmt.Errorf("%s is set but %s is not", EnvSMTPPassword, EnvSMTPUsername)}
	}
	m := &Email{Host: host, Port: 587, Username: user, Password: pass, From: from}
	if p := get(EnvSMTPPort); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port <= 0 || port > 65535 {
			return misconfigured{"email", fmt.Errorf("%s=%q is not a port number", EnvSMTPPort, p)}
		}
		m.Port = port
	}
	m.ImplicitTLS = m.Port == 465
	for _, addr := range strings.Split(to, ",") {
		if addr = strings.TrimSpace(addr); addr != "" {
			m.To = append(m.To, addr)
		}
	}
	if _, _, err := m.addresses(); err != nil {
		return misconfigured{"email", err}
	}
	return m
}

func isHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// unconfigured stands in for a channel with no settings.
type unconfigured struct{ name, hint string }

func (u unconfigured) Name() string { return u.name }
func (u unconfigured) Send(context.Context, Event) (string, error) {
	return "", &SkipError{Reason: u.hint}
}

// misconfigured stands in for a channel whose settings are wrong, so the
// mistake shows as a failure instead of a silent skip.
type misconfigured struct {
	name string
	err  error
}

func (m misconfigured) Name() string { return m.name }
func (m misconfigured) Send(context.Context, Event) (string, error) {
	return "", m.err
}

// Problems returns what is wrong with the settings of the notifier's
// channels (a half-configured e-mail, a webhook that is not a URL), one
// error per channel, or nil. A run checks it before it changes anything, so
// a broken setting is fixed before a deploy rather than found when its
// notifications fail. Values are never echoed.
func (n *Notifier) Problems() error {
	var errs []error
	for _, c := range n.Channels {
		if m, ok := c.(misconfigured); ok {
			errs = append(errs, fmt.Errorf("%s: %w", m.name, m.err))
		}
	}
	return errors.Join(errs...)
}
