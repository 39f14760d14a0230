// Package notify tells people about releases: Slack (incoming webhook, Block
// Kit), PagerDuty (Events API v2) and e-mail (SMTP).
//
// Configuration comes from environment variables; every channel whose
// variables are unset is skipped with one line naming what to set:
//
//	SLACK_WEBHOOK_URL      Slack incoming webhook URL (secret)
//	PAGERDUTY_ROUTING_KEY  Events API v2 integration (routing) key (secret)
//	PAGERDUTY_EVENTS_URL   events endpoint; defaults to PagerDuty's public
//	                       enqueue URL (override for tests or a proxy)
//	SMTP_HOST              SMTP server host name
//	SMTP_PORT              SMTP port; 587 by default (465 means implicit TLS)
//	SMTP_USERNAME          user for AUTH PLAIN; unset means no auth
//	SMTP_PASSWORD          password for AUTH PLAIN (secret)
//	NOTIFY_EMAIL_FROM      sender address
//	NOTIFY_EMAIL_TO        recipients, comma separated
//
// Every event goes to Slack and e-mail. PagerDuty only hears about
// production: DeployFailed, CanaryAborted and RollbackFailed trigger an
// incident keyed by environment and release; RollbackDone and
// DeploySucceeded resolve it. Set Event.Resolves on a rollback (or a
// fix-forward deploy) to the release whose incident it closes.
//
// Send never panics and never blocks longer than Notifier.Timeout per
// channel. Its Report lists every channel as sent, skipped or failed. A
// failed notification must not fail a deploy that succeeded: print the
// Report (it belongs in the run summary) and carry on. Callers decide what a
// failure means on paths that already fail.
//
// Webhook URLs, routing keys and passwords never appear in a Report or an
// error: they are masked with "***".
package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/redact"
)

// Kind is what happened.
type Kind string

// The events the release pipeline reports.
const (
	DeployStarted   Kind = "deploy_started"
	DeploySucceeded Kind = "deploy_succeeded"
	DeployFailed    Kind = "deploy_failed"
	CanaryAborted   Kind = "canary_aborted"
	RollbackDone    Kind = "rollback_done"
	RollbackFailed  Kind = "rollback_failed"
)

// Kinds lists every known Kind.
var Kinds = []Kind{DeployStarted, DeploySucceeded, DeployFailed, CanaryAborted, RollbackDone, RollbackFailed}

var kindInfo = map[Kind]struct {
	title, emoji string
	failure      bool
}{
	DeployStarted:   {"Deploy started", "🚀", false},
	DeploySucceeded: {"Deploy succeeded", "✅", false},
	DeployFailed:    {"Deploy failed", "❌", true},
	CanaryAborted:   {"Canary aborted", "🛑", true},
	RollbackDone:    {"Rollback done", "↩️", false},
	RollbackFailed:  {"Rollback failed", "🔥", true},
}

// Title is the human name of the kind, e.g. "Canary aborted".
func (k Kind) Title() string {
	if info, ok := kindInfo[k]; ok {
		return info.title
	}
	return string(k)
}

// Failure reports whether the kind means something went wrong.
func (k Kind) Failure() bool { return kindInfo[k].failure }

func (k Kind) emoji() string { return kindInfo[k].emoji }

func (k Kind) valid() bool {
	_, ok := kindInfo[k]
	return ok
}

// Detail is one key/value line of an event, shown in the order given.
type Detail struct {
	Key, Value string
}

// Event is one thing to tell people about.
type Event struct {
	Kind Kind
	// Env is the bundle target: dev, staging or prod.
	Env string
	// Release is the tag the event is about: the one deployed or aborted,
	// or for a rollback the one restored.
	Release string
	// Resolves names the release whose production incident a recovery event
	// (RollbackDone, DeploySucceeded) closes, such as the release a rollback
	// replaced. Empty means Release.
	Resolves string
	// ModelVersion is the registered model version involved, if any.
	ModelVersion string
	// Summary is one or two sentences of what happened.
	Summary string
	Details []Detail
	// URL links to more, typically the CI run.
	URL string
	// Time is when it happened; zero means when Send is called.
	Time time.Time
}

// Headline is "<Title>: <env> <release>", the one-line form used as
// subject, header and incident summary.
func (e Event) Headline() string {
	s := e.Kind.Title() + ": " + e.Env
	if e.Release != "" {
		s += " " + e.Release
	}
	return s
}

func (e Event) validate() error {
	var errs []error
	if !e.Kind.valid() {
		errs = append(errs, fmt.Errorf("unknown event kind %q", e.Kind))
	}
	if strings.TrimSpace(e.Env) == "" {
		errs = append(errs, errors.New("event has no environment"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid event: %w", err)
	}
	return nil
}

// Channel delivers events somewhere. Send returns a short description of
// what it did ("posted", "triggered ..."), a *SkipError when the event is
// not for this channel, or an error.
type Channel interface {
	Name() string
	Send(ctx context.Context, e Event) (string, error)
}

// secretHolder is implemented by channels that hold credentials, so the
// Notifier can mask them in everything it reports.
type secretHolder interface {
	secrets() []string
}

// SkipError says a channel did nothing, and why.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return "skipped: " + e.Reason }

// Skip returns a *SkipError with a formatted reason.
func Skip(format string, args ...any) error {
	return &SkipError{Reason: fmt.Sprintf(format, args...)}
}

// DefaultTimeout bounds each channel's Send, retries included.
const DefaultTimeout = 20 * time.Second

// Notifier sends events to its channels, concurrently.
type Notifier struct {
	Channels []Channel
	// Timeout bounds each channel; zero means DefaultTimeout.
	Timeout time.Duration
	// Now stamps events without a time; nil means time.Now.
	Now func() time.Time

	extraSecrets []string
}

// New returns a Notifier for the given channels.
func New(channels ...Channel) *Notifier {
	return &Notifier{Channels: channels}
}

// AddSecrets registers more values to mask in reports, such as credentials
// of a custom Channel. The credentials of this package's channels are
// always masked.
func (n *Notifier) AddSecrets(secrets ...string) {
	n.extraSecrets = append(n.extraSecrets, secrets...)
}

// redactor masks the extra secrets and every channel's credentials, read
// at send time so channels added or changed after New are covered too.
func (n *Notifier) redactor() *redact.Redactor {
	r := redact.New()
	r.Add(n.extraSecrets...)
	for _, c := range n.Channels {
		if h, ok := c.(secretHolder); ok {
			r.Add(h.secrets()...)
		}
	}
	return r
}

// Send delivers e to every channel and reports what happened to each, in
// channel order. It returns when every channel has finished or timed out.
func (n *Notifier) Send(ctx context.Context, e Event) Report {
	if e.Time.IsZero() {
		now := time.Now
		if n.Now != nil {
			now = n.Now
		}
		e.Time = now()
	}
	e.Time = e.Time.UTC()
	report := Report{Event: e, Results: make([]Result, len(n.Channels))}
	invalid := e.validate()
	mask := n.redactor()

	var wg sync.WaitGroup
	for i, c := range n.Channels {
		report.Results[i].Channel = safeName(c)
		if invalid != nil {
			report.Results[i] = result(mask, report.Results[i].Channel, "", invalid)
			continue
		}
		wg.Go(func() {
			detail, err := n.sendOne(ctx, c, e)
			report.Results[i] = result(mask, report.Results[i].Channel, detail, err)
		})
	}
	wg.Wait()
	return report
}

func (n *Notifier) timeout() time.Duration {
	if n.Timeout > 0 {
		return n.Timeout
	}
	return DefaultTimeout
}

// sendOne runs one channel under a deadline. A channel that ignores its
// context is abandoned when the deadline passes, so Send cannot hang.
func (n *Notifier) sendOne(parent context.Context, c Channel, e Event) (string, error) {
	ctx, cancel := context.WithTimeout(parent, n.timeout())
	defer cancel()
	type outcome struct {
		detail string
		err    error
	}
	done := make(chan outcome, 1) // buffered: an abandoned channel can still finish
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- outcome{err: fmt.Errorf("panic: %v", r)}
			}
		}()
		detail, err := c.Send(ctx, e)
		done <- outcome{detail, err}
	}()
	var o outcome
	select {
	case o = <-done:
		// A socket deadline (set from ctx) can fire a hair before ctx
		// itself reports it; the clock settles which one it was.
		deadline, _ := ctx.Deadline()
		if o.err == nil || (ctx.Err() == nil && time.Now().Before(deadline)) {
			return o.detail, o.err
		}
	case <-ctx.Done():
		o.err = ctx.Err()
	}
	// Say plainly whose clock ran out.
	if parent.Err() != nil {
		return "", fmt.Errorf("stopped: %w", o.err)
	}
	return "", fmt.Errorf("timed out after %s: %w", n.timeout(), o.err)
}

func result(mask *redact.Redactor, channel, detail string, err error) Result {
	r := Result{Channel: channel, Status: Sent, Detail: mask.String(detail)}
	var skip *SkipError
	switch {
	case errors.As(err, &skip):
		r.Status, r.Detail = Skipped, mask.String(skip.Reason)
	case err != nil:
		// Keep only the masked text: the original chain may hold a URL.
		r.Status, r.Detail = Failed, mask.String(err.Error())
	}
	return r
}

func safeName(c Channel) (name string) {
	defer func() {
		if recover() != nil {
			name = fmt.Sprintf("%T", c)
		}
	}()
	return c.Name()
}
