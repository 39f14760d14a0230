package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRedactor(t *testing.T) {
	env := map[string]string{
		"DATABRICKS_TOKEN":  "dapi0123456789abcdef",
		"SLACK_WEBHOOK_URL": "https://hooks.example.invalid/T000/B000/XXXX",
		"GITHUB_TOKEN":      "x", // too short to be a secret worth masking
	}
	r := FromGetenv(func(k string) string { return env[k] })

	tests := []struct {
		name, in, want string
	}{
		{"token in a header line", "Authorization: Bearer dapi0123456789abcdef", "Authorization: Bearer ***"},
		{"webhook url in an error", "post https://hooks.example.invalid/T000/B000/XXXX: 500", "post ***: 500"},
		{"repeated", "dapi0123456789abcdef dapi0123456789abcdef", "*** ***"},
		{"short values are not secrets", "x marks the spot", "x marks the spot"},
		{"no secret", "all good", "all good"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, r.String(tt.in))
		})
	}
}

func TestLongestSecretFirst(t *testing.T) {
	r := New("abcd", "abcdefgh")
	assert.Equal(t, "*** ***", r.String("abcdefgh abcd"))
}

func TestEscapedFormIsMasked(t *testing.T) {
	r := New("secret/with space")
	assert.Equal(t, "q=***", r.String("q=secret%2Fwith+space"))
}

func TestNilRedactorIsIdentity(t *testing.T) {
	var r *Redactor
	assert.Equal(t, "abc", r.String("abc"))
}
