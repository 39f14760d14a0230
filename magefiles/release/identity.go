package release

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Identity is the release a deploy ships: the version tag, the commit, and
// where it goes. It is attached to everything a deploy creates.
type Identity struct {
	Tag     string   `json:"tag"`
	Version Version  `json:"-"`
	SHA     string   `json:"sha"`
	Env     string   `json:"env"`
	Source  string   `json:"source"` // how the tag was chosen, for messages
	Git     GitFacts `json:"git"`
}

// IdentityOptions says which rules apply when resolving an Identity.
type IdentityOptions struct {
	Env string
	// Override is an explicit release tag; accepted only when AllowOverride.
	Override      string
	AllowOverride bool
	// Production demands a stable tag whose commit is on the main branch.
	Production bool
	// MainRefs are tried in order to find the main branch; default main, origin/main.
	MainRefs []string
}

// DefaultMainRefs are where the main branch is looked for: a local branch on a
// developer machine, the remote-tracking ref on a CI checkout.
var DefaultMainRefs = []string{"main", "origin/main"}

// Errors a caller may want to tell apart.
var (
	ErrNoTag          = errors.New("no release tag on HEAD")
	ErrPrerelease     = errors.New("prerelease tag")
	ErrNotOnMain      = errors.New("tag not on main")
	ErrOverrideDenied = errors.New("release override not allowed")
)

// looksLikeVersion picks the tags a person meant as versions (v1.2, 1.2.3)
// so they are reported as bad rather than silently ignored.
var looksLikeVersion = regexp.MustCompile(`^[vV]?[0-9]`)

// ResolveIdentity works out the release from the tag on HEAD (or an allowed
// override) and applies the environment's rules. It reads git only.
func ResolveIdentity(ctx context.Context, g Git, opts IdentityOptions) (Identity, error) {
	facts, err := g.Facts(ctx)
	if err != nil {
		return Identity{}, fmt.Errorf("release identity: %w", err)
	}
	id := Identity{SHA: facts.SHA, Env: opts.Env, Git: facts}

	if opts.Override != "" {
		if !opts.AllowOverride {
			return Identity{}, fmt.Errorf("release %s for %s: %w: %s deploys the tag on HEAD; an explicit release is accepted for dev only",
				opts.Override, opts.Env, ErrOverrideDenied, opts.Env)
		}
		v, err := ParseTag(opts.Override)
		if err != nil {
			return Identity{}, err
		}
		id.Version, id.Tag, id.Source = v, v.String(), "explicit release argument"
	} else {
		v, err := versionAtHead(facts)
		if err != nil {
			return Identity{}, err
		}
		id.Version, id.Tag, id.Source = v, v.String(), "tag on HEAD"
	}

	if !opts.Production {
		return id, nil
	}
	if !id.Version.Stable() {
		return Identity{}, fmt.Errorf("%s to %s: %w: prereleases go to dev and staging only; tag a stable release (e.g. v%d.%d.%d) for %s",
			id.Tag, opts.Env, ErrPrerelease, id.Version.Major, id.Version.Minor, id.Version.Patch, opts.Env)
	}
	refs := opts.MainRefs
	if len(refs) == 0 {
		refs = DefaultMainRefs
	}
	main, err := firstRef(ctx, g, refs)
	if err != nil {
		return Identity{}, err
	}
	on, err := g.IsAncestor(ctx, id.SHA, main)
	if err != nil {
		return Identity{}, fmt.Errorf("check %s is on %s: %w", id.Tag, main, err)
	}
	if !on {
		return Identity{}, fmt.Errorf("%s (%s) to %s: %w: %s deploys only tags whose commit is on %s; merge it and tag the merge commit",
			id.Tag, ShortSHA(id.SHA), opts.Env, ErrNotOnMain, opts.Env, main)
	}
	return id, nil
}

// versionAtHead picks the highest release tag on HEAD; a version-looking tag
// that does not parse is an error so a typo never deploys something else.
func versionAtHead(facts GitFacts) (Version, error) {
	var found []Version
	for _, t := range facts.Tags {
		if !looksLikeVersion.MatchString(t) {
			continue // "latest", "demo": not meant as versions
		}
		v, err := ParseTag(t)
		if err != nil {
			return Version{}, err
		}
		found = append(found, v)
	}
	if len(found) == 0 {
		hint := "tag it (git tag v1.2.3 && git push origin v1.2.3)"
		if len(facts.Tags) > 0 {
			hint = fmt.Sprintf("its tags (%s) are not versions; %s", strings.Join(facts.Tags, ", "), hint)
		}
		return Version{}, fmt.Errorf("HEAD (%s): %w: %s, or for dev pass -release=vX.Y.Z", ShortSHA(facts.SHA), ErrNoTag, hint)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Compare(found[j]) > 0 })
	return found[0], nil
}

func firstRef(ctx context.Context, g Git, refs []string) (string, error) {
	for _, r := range refs {
		if _, err := g.Resolve(ctx, r); err == nil {
			return r, nil
		}
	}
	return "", fmt.Errorf("cannot find the main branch (tried %s): fetch it (git fetch origin main) so the tag can be checked against it",
		strings.Join(refs, ", "))
}
