package releasenotes

import (
	"regexp"
	"strings"
	"time"
)

// Commit is one change in a release.
type Commit struct {
	SHA, ShortSHA string
	Author        string
	Date          time.Time
	// Type is the conventional-commit type in lower case ("feat", "fix",
	// "docs", ...), or "" when the message does not follow the convention.
	Type  string
	Scope string
	// Subject is the header after "type(scope): ", or the whole first line
	// of a message that is not conventional.
	Subject string
	// Breaking is set by "type!:" or a BREAKING CHANGE footer, whose text
	// is BreakingNote.
	Breaking     bool
	BreakingNote string
}

// header: type, optional (scope), optional !, colon, space, subject.
var headerRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_-]*)(?:\(([^()\r\n]*)\))?(!)?:[ \t]+(\S.*)$`)

// footerRE matches a git-trailer style footer line ("Refs: #12",
// "Reviewed-by: X", "Fixes #3"), which ends a BREAKING CHANGE note.
var footerRE = regexp.MustCompile(`^(?:BREAKING CHANGE|[A-Za-z][A-Za-z0-9-]*)(?:: | #)`)

// ParseMessage fills the conventional-commit fields of a commit from its
// full message.
func ParseMessage(msg string) Commit {
	msg = strings.ReplaceAll(msg, "\r\n", "\n")
	header, body, _ := strings.Cut(strings.TrimLeft(msg, "\n"), "\n")
	header = strings.TrimSpace(header)

	c := Commit{Subject: header}
	if m := headerRE.FindStringSubmatch(header); m != nil {
		c.Type = strings.ToLower(m[1])
		c.Scope = strings.TrimSpace(m[2])
		c.Breaking = m[3] == "!"
		c.Subject = strings.TrimSpace(m[4])
	}
	if note, ok := breakingNote(body); ok {
		c.Breaking, c.BreakingNote = true, note
	}
	return c
}

// breakingNote finds a "BREAKING CHANGE: text" (or BREAKING-CHANGE) footer
// in a commit body and returns its text, which runs on over following lines
// until a blank line or the next footer.
func breakingNote(body string) (string, bool) {
	lines := strings.Split(body, "\n")
	for i, line := range lines {
		var rest string
		var found bool
		for _, token := range []string{"BREAKING CHANGE:", "BREAKING-CHANGE:"} {
			if r, ok := strings.CutPrefix(line, token); ok {
				rest, found = r, true
				break
			}
		}
		if !found {
			continue
		}
		note := []string{strings.TrimSpace(rest)}
		for _, next := range lines[i+1:] {
			if strings.TrimSpace(next) == "" || footerRE.MatchString(next) {
				break
			}
			note = append(note, strings.TrimSpace(next))
		}
		return strings.TrimSpace(strings.Join(note, " ")), true
	}
	return "", false
}
