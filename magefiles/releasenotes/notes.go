// Package releasenotes writes the notes of a release from git history: the
// commits since the previous release tag, grouped by conventional-commit
// type (breaking changes first, then features, fixes and the rest), plus the
// model versions the release deployed to each environment. PublishGitHub
// puts the notes on the GitHub release of the tag.
package releasenotes

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// Deployment is what a release put in one environment, taken from the
// CD release records.
type Deployment struct {
	Env      string
	Model    string
	Version  string
	Endpoint string
}

// Notes are the notes of one release.
type Notes struct {
	Tag string
	// Previous is the release the notes start from; "" for a first release.
	Previous   string
	Prerelease bool
	// Date is the commit date of the tagged commit.
	Date time.Time
	// Commits are every non-merge commit in the release, newest first.
	Commits  []Commit
	Deployed []Deployment
}

// Generate reads the history of the git repository in repoDir and returns
// the notes of tag: the commits after the previous release tag (among the
// tags that tag descends from, the one PreviousTag picks) up to tag, or
// every commit up to tag for a first release.
// deployed comes from the release records; it may be nil.
func Generate(ctx context.Context, repoDir, tag string, deployed []Deployment) (*Notes, error) {
	v, err := release.ParseTag(tag)
	if err != nil {
		return nil, err
	}
	ref := "refs/tags/" + tag
	head, err := git(ctx, repoDir, "log", "-1", "--format=%cI", ref+"^{commit}", "--")
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("release notes %s: %w", tag, err)
		}
		if _, verr := git(ctx, repoDir, "rev-parse", "--verify", "--quiet", ref+"^{commit}"); verr != nil {
			return nil, fmt.Errorf("release notes %s: no such tag in %s (create it with `git tag %s`, or fetch tags with `git fetch --tags`): %w", tag, repoDir, tag, err)
		}
		return nil, fmt.Errorf("release notes %s: %w", tag, err)
	}
	date, err := time.Parse(time.RFC3339, strings.TrimSpace(head))
	if err != nil {
		return nil, fmt.Errorf("release notes %s: tag date: %w", tag, err)
	}

	// The previous release is the highest one the tag descends from: a
	// hotfix tagged on another branch (v1.0.1 off v1.0.0) is not where
	// v1.1.0's changes start, whatever its number.
	tagList, err := git(ctx, repoDir, "tag", "--list", "--merged", ref+"^{commit}", "v*")
	if err != nil {
		return nil, fmt.Errorf("release notes %s: list tags: %w", tag, err)
	}
	prev, err := PreviousTag(strings.Split(tagList, "\n"), tag)
	if err != nil {
		return nil, err
	}

	rangeSpec := ref
	if prev != "" {
		rangeSpec = "refs/tags/" + prev + ".." + ref
	}
	list, err := commits(ctx, repoDir, rangeSpec)
	if err != nil {
		return nil, fmt.Errorf("release notes %s: %w", tag, err)
	}
	return &Notes{
		Tag:        tag,
		Previous:   prev,
		Prerelease: !v.Stable(),
		Date:       date.UTC(),
		Commits:    list,
		Deployed:   sortDeployments(deployed),
	}, nil
}

// envRank puts the pipeline's environments in promotion order; others
// follow alphabetically.
var envRank = map[string]int{"dev": 1, "staging": 2, "prod": 3, "production": 3}

func sortDeployments(in []Deployment) []Deployment {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	rank := func(env string) int {
		if r, ok := envRank[env]; ok {
			return r
		}
		return len(envRank) + 1
	}
	slices.SortStableFunc(out, func(a, b Deployment) int {
		return cmp.Or(cmp.Compare(rank(a.Env), rank(b.Env)), strings.Compare(a.Env, b.Env))
	})
	return out
}

// Section is one group of commits under a heading.
type Section struct {
	Title   string
	Commits []Commit
}

// Section titles, in the order they appear.
const (
	TitleBreaking = "⚠️ Breaking changes"
	TitleFeatures = "Features"
	TitleFixes    = "Fixes"
	TitleOthers   = "Others"
)

// Sections groups the commits: breaking changes (whatever their type),
// then features, fixes, and everything else including messages that are
// not conventional. Empty sections are left out; each commit appears once.
func (n *Notes) Sections() []Section {
	groups := map[string][]Commit{}
	for _, c := range n.Commits {
		title := TitleOthers
		switch {
		case c.Breaking:
			title = TitleBreaking
		case c.Type == "feat":
			title = TitleFeatures
		case c.Type == "fix":
			title = TitleFixes
		}
		groups[title] = append(groups[title], c)
	}
	var out []Section
	for _, title := range []string{TitleBreaking, TitleFeatures, TitleFixes, TitleOthers} {
		if len(groups[title]) > 0 {
			out = append(out, Section{Title: title, Commits: groups[title]})
		}
	}
	return out
}

// Markdown renders the notes for a GitHub release body or a file.
func (n *Notes) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s (%s)\n\n", n.Tag, n.Date.Format("2006-01-02"))
	kind := "Release"
	if n.Prerelease {
		kind = "Pre-release"
	}
	switch {
	case n.Previous == "":
		fmt.Fprintf(&b, "%s %s is the first release: every commit up to it is listed.\n", kind, n.Tag)
	case len(n.Commits) == 0:
		fmt.Fprintf(&b, "%s %s has no changes since %s.\n", kind, n.Tag, n.Previous)
	default:
		fmt.Fprintf(&b, "%s %s: %d %s since %s.\n", kind, n.Tag, len(n.Commits), plural(len(n.Commits), "change", "changes"), n.Previous)
	}

	for _, s := range n.Sections() {
		fmt.Fprintf(&b, "\n### %s\n\n", s.Title)
		for _, c := range s.Commits {
			b.WriteString(entry(c, s.Title))
		}
	}

	if len(n.Deployed) > 0 {
		b.WriteString("\n### Deployed\n\n")
		b.WriteString("| Environment | Model | Version | Endpoint |\n")
		b.WriteString("| --- | --- | --- | --- |\n")
		for _, d := range n.Deployed {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(d.Env), code(d.Model), cell(d.Version), code(d.Endpoint))
		}
	}

	if n.Previous != "" {
		fmt.Fprintf(&b, "\n**Full changelog:** %s...%s\n", n.Previous, n.Tag)
	}
	return b.String()
}

// entry renders one commit as a list item. Features and fixes are under a
// heading that names their type, so only the scope is shown; elsewhere the
// type is kept, since it says what kind of change it was.
func entry(c Commit, section string) string {
	label := c.Scope
	if section == TitleOthers || section == TitleBreaking {
		label = c.Type
		if c.Scope != "" {
			label += "(" + c.Scope + ")"
		}
	}
	var b strings.Builder
	b.WriteString("- ")
	if label != "" {
		b.WriteString("**" + inline(label) + ":** ")
	}
	fmt.Fprintf(&b, "%s — %s (%s)\n", inline(c.Subject), inline(c.Author), c.ShortSHA)
	if c.BreakingNote != "" {
		// A quote inside the item keeps the note with its commit.
		b.WriteString("  > " + inline(c.BreakingNote) + "\n")
	}
	return b.String()
}

// escapeMarkdown backslash-escapes the characters that would turn commit
// text into markup. An underscore inside a word (snake_case) cannot start
// emphasis, so it is left alone to keep the raw file readable.
func escapeMarkdown(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		switch c {
		case '\\', '*', '[', ']', '<', '>', '|':
			b.WriteRune('\\')
		case '_':
			if i == 0 || i == len(r)-1 || !isWordRune(r[i-1]) || !isWordRune(r[i+1]) {
				b.WriteRune('\\')
			}
		}
		b.WriteRune(c)
	}
	return b.String()
}

func isWordRune(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) }

// inline escapes text for a markdown line, except inside `code spans`:
// backticks in subjects are meant as code.
func inline(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	parts := strings.Split(s, "`")
	if len(parts)%2 == 0 {
		// An unpaired backtick: nothing is code, escape it too.
		return strings.ReplaceAll(escapeMarkdown(s), "`", "\\`")
	}
	for i := 0; i < len(parts); i += 2 {
		parts[i] = escapeMarkdown(parts[i])
	}
	return strings.Join(parts, "`")
}

// code renders a name as a code span when it can be one.
func code(s string) string {
	if s == "" {
		return "—"
	}
	if strings.ContainsAny(s, "`\n") {
		return inline(s)
	}
	// Inside a table a pipe ends the cell, even in a code span.
	return "`" + strings.ReplaceAll(s, "|", "\\|") + "`"
}

// cell is inline text safe inside a table cell.
func cell(s string) string {
	if s == "" {
		return "—"
	}
	return inline(s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
