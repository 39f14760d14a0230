package notify

import (
	"net/url"
	"slices"
	"strings"
)

const mask = "***"

// minSecretLen keeps tiny values from masking ordinary words.
const minSecretLen = 4

// redactor masks known secret values. A nil redactor masks nothing.
type redactor struct {
	secrets []string
}

func (r *redactor) add(secrets ...string) {
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if len(s) < minSecretLen || slices.Contains(r.secrets, s) {
			continue
		}
		r.secrets = append(r.secrets, s)
		// An escaped form can show up when a URL is printed back.
		if esc := url.QueryEscape(s); esc != s {
			r.secrets = append(r.secrets, esc)
		}
	}
	// Longest first, so a secret that contains another is masked whole.
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
}

func (r *redactor) string(s string) string {
	if r == nil {
		return s
	}
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, mask)
	}
	return s
}

// webhookSecrets returns the parts of a webhook URL that grant access: the
// whole URL, and its path and query, which carry the token.
func webhookSecrets(raw string) []string {
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		out = append(out, p)
	}
	if u.RawQuery != "" {
		out = append(out, u.RawQuery)
	}
	if pw, ok := u.User.Password(); ok {
		out = append(out, pw)
	}
	return out
}

// safeURL is scheme://host of a URL, for error messages.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(url)"
	}
	return u.Scheme + "://" + u.Host
}
