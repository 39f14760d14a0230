package release

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// Git reads facts from the repository at Dir with the git command line.
type Git struct {
	Dir string
}

// GitFacts is what a release records about the checkout it was made from.
type GitFacts struct {
	SHA    string   `json:"sha"`
	Branch string   `json:"branch,omitempty"` // empty on a detached HEAD (CI tag checkouts)
	Tags   []string `json:"tags,omitempty"`   // every tag pointing at HEAD
	Dirty  bool     `json:"dirty,omitempty"`
}

// ShortSHA is the first 12 characters of a commit id, for messages.
func ShortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func (g Git) run(ctx context.Context, args ...string) (string, error) {
	out, err := toolchain.Output(ctx, toolchain.Cmd{Name: "git", Args: args, Dir: g.Dir})
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(out), nil
}

// Facts collects SHA, branch, tags at HEAD and whether the tree is dirty.
// It runs two git commands, not one per fact: every deploy and verify
// reads them, and a git process costs more than the reading.
func (g Git) Facts(ctx context.Context) (GitFacts, error) {
	// Porcelain v2 is git's stable machine format; with --branch its
	// header lines carry the commit (branch.oid, "(initial)" before the
	// first commit) and the branch (branch.head, "(detached)" when HEAD
	// is not on one); every other line is a changed entry.
	status, err := g.run(ctx, "status", "--porcelain=v2", "--branch", "--untracked-files=no")
	if err != nil {
		return GitFacts{}, err
	}
	var facts GitFacts
	for _, line := range strings.Split(status, "\n") {
		switch {
		case strings.HasPrefix(line, "# branch.oid "):
			facts.SHA = strings.TrimPrefix(line, "# branch.oid ")
		case strings.HasPrefix(line, "# branch.head "):
			facts.Branch = strings.TrimPrefix(line, "# branch.head ")
		case line != "" && !strings.HasPrefix(line, "# "):
			facts.Dirty = true
		}
	}
	if facts.SHA == "" || facts.SHA == "(initial)" {
		return GitFacts{}, fmt.Errorf("resolve HEAD in %s: not a commit (no commit yet)", g.Dir)
	}
	if facts.Branch == "(detached)" {
		facts.Branch = ""
	}
	if facts.Tags, err = g.TagsAt(ctx, facts.SHA); err != nil {
		return GitFacts{}, err
	}
	return facts, nil
}

// Resolve returns the commit id rev names.
func (g Git) Resolve(ctx context.Context, rev string) (string, error) {
	out, err := g.run(ctx, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("resolve %s in %s: not a commit (%w)", rev, g.Dir, err)
	}
	return out, nil
}

// TagsAt lists the tags pointing at rev (annotated or lightweight).
func (g Git) TagsAt(ctx context.Context, rev string) ([]string, error) {
	out, err := g.run(ctx, "tag", "--points-at", rev)
	if err != nil {
		return nil, err
	}
	if out == "" {
		return nil, nil
	}
	return strings.Split(out, "\n"), nil
}

// IsAncestor reports whether commit is reachable from ref (is "on" ref).
func (g Git) IsAncestor(ctx context.Context, commit, ref string) (bool, error) {
	_, err := toolchain.Output(ctx, toolchain.Cmd{
		Name: "git", Args: []string{"merge-base", "--is-ancestor", commit, ref}, Dir: g.Dir,
	})
	switch {
	case err == nil:
		return true, nil
	case toolchain.ExitCode(err) == 1:
		return false, nil
	}
	return false, fmt.Errorf("git merge-base --is-ancestor %s %s: %w", ShortSHA(commit), ref, err)
}

// FirstCommits returns, for each semver release tag, the commit time of its
// first commit: the oldest commit reachable from the tag and not from the
// tag before it (in version order), or the repository's first commit for
// the first tag. Tags that are not releases are left out.
func (g Git) FirstCommits(ctx context.Context) (map[string]time.Time, error) {
	out, err := g.run(ctx, "tag", "--list", "v*")
	if err != nil {
		return nil, err
	}
	type tagged struct {
		tag string
		v   Version
	}
	var tags []tagged
	for _, t := range strings.Fields(out) {
		if v, err := ParseTag(t); err == nil {
			tags = append(tags, tagged{t, v})
		}
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].v.Compare(tags[j].v) < 0 })
	first := map[string]time.Time{}
	for i, v := range tags {
		span := v.tag
		if i > 0 {
			span = tags[i-1].tag + ".." + v.tag
		}
		log, err := g.run(ctx, "log", "--format=%ct", "--reverse", span)
		if err != nil {
			return nil, err
		}
		line, _, _ := strings.Cut(log, "\n")
		if line == "" {
			continue // the tag adds no commit
		}
		secs, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("git log %s: %q is not a commit time", span, line)
		}
		first[v.tag] = time.Unix(secs, 0).UTC()
	}
	return first, nil
}
