package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// DefaultPagerDutyEventsURL is the Events API v2 enqueue endpoint.
const DefaultPagerDutyEventsURL = "https://events.pagerduty.com/v2/enqueue"

// DefaultSource names this system in incidents and dedup keys.
const DefaultSource = "interrupt-agent"

// PagerDuty opens and resolves incidents through the Events API v2.
type PagerDuty struct {
	// RoutingKey is the integration key; it is a secret.
	RoutingKey string
	// EventsURL defaults to DefaultPagerDutyEventsURL.
	EventsURL string
	// Source prefixes dedup keys and names the affected system; defaults to
	// DefaultSource.
	Source string
	// PageEnvs are the environments that page; defaults to prod and production.
	PageEnvs []string
	Client   *http.Client
	Attempts int
	Backoff  time.Duration
}

// Name implements Channel.
func (p *PagerDuty) Name() string { return "pagerduty" }

func (p *PagerDuty) secrets() []string { return []string{p.RoutingKey} }

func (p *PagerDuty) source() string {
	if p.Source != "" {
		return p.Source
	}
	return DefaultSource
}

// DedupKey identifies the incident of one release in one environment, so a
// later resolve (or a repeated trigger) lands on the same incident.
func (p *PagerDuty) DedupKey(env, release string) string {
	return p.source() + "/" + env + "/" + release
}

func (p *PagerDuty) pages(env string) bool {
	envs := p.PageEnvs
	if len(envs) == 0 {
		envs = []string{"prod", "production"}
	}
	return slices.Contains(envs, env)
}

// Event actions and what triggers them.
const (
	pdTrigger = "trigger"
	pdResolve = "resolve"
)

// pdAction maps an event to the action PagerDuty should take, if any.
func pdAction(k Kind) string {
	switch k {
	case DeployFailed, CanaryAborted, RollbackFailed:
		return pdTrigger
	case RollbackDone, DeploySucceeded:
		return pdResolve
	}
	return ""
}

func pdSeverity(k Kind) string {
	if k == RollbackFailed {
		// Production may be serving a broken version with no way back.
		return "critical"
	}
	return "error"
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

type pdPayload struct {
	Summary       string            `json:"summary"`
	Source        string            `json:"source"`
	Severity      string            `json:"severity"`
	Timestamp     string            `json:"timestamp"`
	Group         string            `json:"group,omitempty"`
	Class         string            `json:"class,omitempty"`
	CustomDetails map[string]string `json:"custom_details,omitempty"`
}

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Links       []pdLink   `json:"links,omitempty"`
	Client      string     `json:"client,omitempty"`
	ClientURL   string     `json:"client_url,omitempty"`
}

// pdSummaryMax is the Events API limit on payload.summary.
const pdSummaryMax = 1024

// pagerDutyEvent builds the Events API v2 body for e, or returns a skip.
func (p *PagerDuty) pagerDutyEvent(e Event) (pdEvent, error) {
	action := pdAction(e.Kind)
	if action == "" {
		return pdEvent{}, Skip("%s does not page", e.Kind)
	}
	if !p.pages(e.Env) {
		return pdEvent{}, Skip("only production pages, not %s", e.Env)
	}
	release := e.Release
	if action == pdResolve && e.Resolves != "" {
		release = e.Resolves
	}
	ev := pdEvent{RoutingKey: p.RoutingKey, EventAction: action, DedupKey: p.DedupKey(e.Env, release)}
	if action == pdResolve {
		return ev, nil
	}
	summary := e.Headline()
	if e.Summary != "" {
		summary += ": " + oneLine(e.Summary)
	}
	details := map[string]string{}
	for _, d := range eventFacts(e) {
		details[d.Key] = d.Value
	}
	ev.Payload = &pdPayload{
		Summary:       truncate(summary, pdSummaryMax),
		Source:        p.source() + "-" + e.Env,
		Severity:      pdSeverity(e.Kind),
		Timestamp:     e.Time.UTC().Format(time.RFC3339),
		Group:         e.Env,
		Class:         string(e.Kind),
		CustomDetails: details,
	}
	if e.URL != "" {
		ev.Links = []pdLink{{Href: e.URL, Text: "Release run"}}
		ev.Client, ev.ClientURL = p.source()+" release", e.URL
	}
	return ev, nil
}

// Send implements Channel.
func (p *PagerDuty) Send(ctx context.Context, e Event) (string, error) {
	ev, err := p.pagerDutyEvent(e)
	if err != nil {
		return "", err
	}
	url := p.EventsURL
	if url == "" {
		url = DefaultPagerDutyEventsURL
	}
	backoff := p.Backoff
	if backoff == 0 {
		backoff = defaultBackoff
	}
	post := poster{url: url, client: p.Client, attempts: p.Attempts, backoff: backoff}
	body, err := post.post(ctx, ev)
	if err != nil {
		return "", fmt.Errorf("pagerduty %s %s: %w", ev.EventAction, ev.DedupKey, err)
	}
	var resp struct {
		Status string `json:"status"`
	}
	// A 2xx answer says {"status":"success",...}; another status is a rejection.
	if json.Unmarshal(body, &resp) == nil && resp.Status != "" && resp.Status != "success" {
		return "", fmt.Errorf("pagerduty %s %s: status %q", ev.EventAction, ev.DedupKey, resp.Status)
	}
	verb := map[string]string{pdTrigger: "triggered", pdResolve: "resolved"}[ev.EventAction]
	return verb + " " + ev.DedupKey, nil
}
