package notify

import (
	"net/url"
	"strings"
)

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
