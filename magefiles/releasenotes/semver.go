package releasenotes

import (
	"slices"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// SortTags returns the release tags among tags in ascending semver order
// (release.ParseTag decides what a release tag is), dropping the rest.
func SortTags(tags []string) []release.Version {
	var out []release.Version
	for _, t := range tags {
		if v, err := release.ParseTag(strings.TrimSpace(t)); err == nil {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, release.Version.Compare)
	return out
}

// PreviousTag picks the release that tag's notes start from: the highest
// tag below it. A final release skips prereleases, so v1.1.0 is compared
// with v1.0.0 and lists everything its release candidates had; a
// prerelease starts from the tag just below it, prerelease or not.
// It returns "" for a first release.
func PreviousTag(tags []string, tag string) (string, error) {
	cur, err := release.ParseTag(tag)
	if err != nil {
		return "", err
	}
	prev := ""
	for _, v := range SortTags(tags) {
		if v.Compare(cur) >= 0 {
			break
		}
		if cur.Stable() && !v.Stable() {
			continue
		}
		prev = v.String()
	}
	return prev, nil
}
