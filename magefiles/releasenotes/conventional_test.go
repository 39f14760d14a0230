package releasenotes

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want Commit
	}{
		{"type and subject", "feat: add canary steps\n", Commit{Type: "feat", Subject: "add canary steps"}},
		{"scope", "fix(bundle): resolve variables", Commit{Type: "fix", Scope: "bundle", Subject: "resolve variables"}},
		{"type is case-insensitive", "Feat(API): x", Commit{Type: "feat", Scope: "API", Subject: "x"}},
		{"bang marks breaking", "feat(api)!: drop v1", Commit{Type: "feat", Scope: "api", Subject: "drop v1", Breaking: true}},
		{"bang without scope", "refactor!: drop scorer", Commit{Type: "refactor", Subject: "drop scorer", Breaking: true}},
		{
			"footer marks breaking and gives the note",
			"feat: new policy file\n\nLonger body.\n\nBREAKING CHANGE: the policy moved\nto resources/serving.yml.\nRefs: #12\n",
			Commit{Type: "feat", Subject: "new policy file", Breaking: true, BreakingNote: "the policy moved to resources/serving.yml."},
		},
		{
			"hyphenated footer",
			"fix: x\n\nBREAKING-CHANGE: env vars renamed",
			Commit{Type: "fix", Subject: "x", Breaking: true, BreakingNote: "env vars renamed"},
		},
		{
			"footer text in the header does not count",
			"docs: explain BREAKING CHANGE: footers",
			Commit{Type: "docs", Subject: "explain BREAKING CHANGE: footers"},
		},
		{
			"footer on a non-conventional message still breaks",
			"Rewrite config\n\nBREAKING CHANGE: everything",
			Commit{Subject: "Rewrite config", Breaking: true, BreakingNote: "everything"},
		},
		{"not conventional", "Update README.md", Commit{Subject: "Update README.md"}},
		{"no space after colon", "feat:x", Commit{Subject: "feat:x"}},
		{"empty scope", "chore(): tidy", Commit{Type: "chore", Subject: "tidy"}},
		{"nested parens are not a scope", "fix(a(b)): x", Commit{Subject: "fix(a(b)): x"}},
		{"leading blank lines and CRLF", "\n\nfix: y\r\n\r\nbody", Commit{Type: "fix", Subject: "y"}},
		{"merge-like header", "Merge branch 'topic'", Commit{Subject: "Merge branch 'topic'"}},
		{"empty message", "", Commit{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ParseMessage(tt.msg))
		})
	}
}

func TestInlineEscapesMarkdown(t *testing.T) {
	tests := []struct{ in, want string }{
		{"support *.yml and <T>", `support \*.yml and \<T\>`},
		{"keep `code_span *x*` as is", "keep `code_span *x*` as is"},
		{"unpaired ` backtick", "unpaired \\` backtick"},
		{"[link](x) | pipe", `\[link\](x) \| pipe`},
		{"multi\nline   text", "multi line text"},
		{"snake_case stays, _emphasis_ does not", `snake_case stays, \_emphasis\_ does not`},
		{"trailing_ and __init__", `trailing\_ and \_\_init\_\_`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, inline(tt.in), tt.in)
	}
}

func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		"feat(api)!: drop v1\n\nBREAKING CHANGE: gone",
		"fix: x", "Update README", "", "a(b)!:  c", "BREAKING CHANGE: x\nBREAKING CHANGE: y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		c := ParseMessage(msg)
		assert.Equal(t, strings.ToLower(c.Type), c.Type)
		assert.NotContains(t, c.Subject, "\n")
		if c.BreakingNote != "" {
			assert.True(t, c.Breaking)
		}
		if c.Type != "" {
			assert.NotEmpty(t, c.Subject)
		}
	})
}
