// Package redact removes secret values from text before it reaches a terminal,
// a log or an artifact. Output is redacted at the one place it is captured
// (the task runner, the command runner), not by every caller.
package redact

import (
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
)

// Mask replaces every secret value in output.
const Mask = "***"

// SecretEnv lists the environment variables whose values are secrets wherever
// they appear: credentials for Databricks, notification channels and GitHub.
var SecretEnv = []string{
	"DATABRICKS_TOKEN",
	"DATABRICKS_CLIENT_SECRET",
	"DATABRICKS_PASSWORD",
	"ARM_CLIENT_SECRET",
	"SLACK_WEBHOOK_URL",
	"PAGERDUTY_ROUTING_KEY",
	"SMTP_PASSWORD",
	"GITHUB_TOKEN",
	"GH_TOKEN",
	"ACTIONS_ID_TOKEN_REQUEST_TOKEN",
}

// minSecretLen keeps one-letter or empty values from masking ordinary text.
const minSecretLen = 4

// Redactor masks a fixed set of secret values.
type Redactor struct {
	secrets []string
}

// New returns a Redactor for the given values; short and empty ones are ignored.
func New(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// FromEnv returns a Redactor for the values of SecretEnv in the process environment.
func FromEnv() *Redactor {
	return FromGetenv(os.Getenv)
}

// FromGetenv is FromEnv with an injectable lookup, for tests.
func FromGetenv(getenv func(string) string) *Redactor {
	r := &Redactor{}
	for _, name := range SecretEnv {
		r.Add(getenv(name))
	}
	return r
}

// Add registers more secret values.
func (r *Redactor) Add(secrets ...string) {
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if len(s) < minSecretLen || slices.Contains(r.secrets, s) {
			continue
		}
		r.secrets = append(r.secrets, s)
		// An escaped form shows up when a URL carrying the secret is printed.
		if esc := url.QueryEscape(s); esc != s {
			r.secrets = append(r.secrets, esc)
		}
	}
	// Longest first, so a secret that contains another is masked whole.
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

// String returns s with every secret replaced by Mask.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	for _, secret := range r.secrets {
		if strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, Mask)
		}
	}
	return s
}
