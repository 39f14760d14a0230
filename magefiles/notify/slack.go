package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Slack posts Block Kit messages to an incoming webhook.
type Slack struct {
	// WebhookURL is the incoming webhook; it is a secret.
	WebhookURL string
	// Client defaults to one with a 10 s request timeout.
	Client *http.Client
	// Attempts and Backoff tune retries on 429, 5xx and network errors.
	Attempts int
	Backoff  time.Duration
}

// Block Kit limits that make Slack reject a message when exceeded.
const (
	slackHeaderMax  = 150
	slackTextMax    = 3000
	slackFieldMax   = 2000
	slackFieldsMax  = 10
	slackContextMax = 10
)

// Name implements Channel.
func (s *Slack) Name() string { return "slack" }

func (s *Slack) secrets() []string { return webhookSecrets(s.WebhookURL) }

// Send implements Channel.
func (s *Slack) Send(ctx context.Context, e Event) (string, error) {
	backoff := s.Backoff
	if backoff == 0 {
		backoff = defaultBackoff
	}
	p := poster{url: s.WebhookURL, client: s.Client, attempts: s.Attempts, backoff: backoff}
	if _, err := p.post(ctx, slackMessage(e)); err != nil {
		return "", fmt.Errorf("slack webhook: %w", err)
	}
	return "posted", nil
}

// slackText is a Block Kit text object.
type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// slackBlock covers the block types used here: header, section, context.
type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackPayload struct {
	// Text is the fallback shown in notifications and old clients.
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

// slackMessage renders e as a Block Kit webhook payload: a header, the
// summary, the facts as fields, and a context line with time and link.
func slackMessage(e Event) slackPayload {
	headline := e.Kind.emoji() + " " + e.Headline()
	blocks := []slackBlock{{
		Type: "header",
		Text: &slackText{Type: "plain_text", Text: truncate(headline, slackHeaderMax), Emoji: true},
	}}
	if e.Summary != "" {
		blocks = append(blocks, slackBlock{
			Type: "section",
			Text: &slackText{Type: "mrkdwn", Text: truncate(slackEscape(e.Summary), slackTextMax)},
		})
	}

	var fields []slackText
	for _, d := range eventFacts(e) {
		text := "*" + slackEscape(d.Key) + "*\n" + slackEscape(d.Value)
		fields = append(fields, slackText{Type: "mrkdwn", Text: truncate(text, slackFieldMax)})
	}
	// A section holds at most ten fields; more spill into further sections.
	for len(fields) > 0 {
		n := min(len(fields), slackFieldsMax)
		blocks = append(blocks, slackBlock{Type: "section", Fields: fields[:n]})
		fields = fields[n:]
	}

	elements := []slackText{{Type: "mrkdwn", Text: e.Time.UTC().Format("2006-01-02 15:04:05 MST")}}
	if e.URL != "" {
		elements = append(elements, slackText{Type: "mrkdwn", Text: "<" + slackEscape(e.URL) + "|View run>"})
	}
	blocks = append(blocks, slackBlock{Type: "context", Elements: elements[:min(len(elements), slackContextMax)]})

	return slackPayload{Text: headline, Blocks: blocks}
}

// eventFacts lists the event's fixed facts, then its details.
func eventFacts(e Event) []Detail {
	facts := []Detail{{"Environment", e.Env}}
	if e.Release != "" {
		facts = append(facts, Detail{"Release", e.Release})
	}
	if e.ModelVersion != "" {
		facts = append(facts, Detail{"Model version", e.ModelVersion})
	}
	return append(facts, e.Details...)
}

// slackEscape escapes the three characters mrkdwn treats as control.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slackEscape(s string) string { return slackEscaper.Replace(s) }
