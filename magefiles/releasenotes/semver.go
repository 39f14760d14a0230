package releasenotes

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Version is a release tag vMAJOR.MINOR.PATCH[-PRERELEASE][+BUILD].
type Version struct {
	Major, Minor, Patch uint64
	Pre                 []string
	Build               string
	tag                 string
}

var semverRE = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?` +
	`(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$`)

// ParseTag parses a release tag such as v1.2.0 or v1.3.0-rc.1.
func ParseTag(tag string) (Version, error) {
	m := semverRE.FindStringSubmatch(tag)
	if m == nil {
		return Version{}, fmt.Errorf("tag %q is not a release tag: want vMAJOR.MINOR.PATCH, optionally with -prerelease", tag)
	}
	v := Version{Build: m[5], tag: tag}
	for i, p := range []*uint64{&v.Major, &v.Minor, &v.Patch} {
		n, err := strconv.ParseUint(m[i+1], 10, 64)
		if err != nil {
			return Version{}, fmt.Errorf("tag %q: %w", tag, err)
		}
		*p = n
	}
	if m[4] != "" {
		v.Pre = strings.Split(m[4], ".")
	}
	return v, nil
}

// Prerelease reports whether v has a prerelease part (v1.0.0-rc.1).
func (v Version) Prerelease() bool { return len(v.Pre) > 0 }

// String is the tag v was parsed from.
func (v Version) String() string { return v.tag }

// Compare orders versions by semver precedence; build metadata does not
// count, except as a last tie-break so sorting is deterministic.
func (v Version) Compare(w Version) int {
	return cmp.Or(v.precedence(w), cmp.Compare(v.Build, w.Build))
}

// precedence is semver precedence proper: build metadata is ignored.
func (v Version) precedence(w Version) int {
	return cmp.Or(
		cmp.Compare(v.Major, w.Major),
		cmp.Compare(v.Minor, w.Minor),
		cmp.Compare(v.Patch, w.Patch),
		comparePre(v.Pre, w.Pre),
	)
}

// comparePre: a release outranks its prereleases; identifiers compare
// numerically when both are numbers, numbers rank below words, and a
// longer list wins when one is a prefix of the other.
func comparePre(a, b []string) int {
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return 1
	case len(b) == 0:
		return -1
	}
	for i := range min(len(a), len(b)) {
		x, xErr := strconv.ParseUint(a[i], 10, 64)
		y, yErr := strconv.ParseUint(b[i], 10, 64)
		var c int
		switch {
		case xErr == nil && yErr == nil:
			c = cmp.Compare(x, y)
		case xErr == nil:
			c = -1
		case yErr == nil:
			c = 1
		default:
			c = strings.Compare(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// SortTags returns the release tags among tags in ascending semver order,
// dropping anything that is not a release tag.
func SortTags(tags []string) []Version {
	var out []Version
	for _, t := range tags {
		if v, err := ParseTag(strings.TrimSpace(t)); err == nil {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, Version.Compare)
	return out
}

// PreviousTag picks the release that tag's notes start from: the highest
// tag below it. A final release skips prereleases, so v1.1.0 is compared
// with v1.0.0 and lists everything its release candidates had; a
// prerelease starts from the tag just below it, prerelease or not.
// It returns "" for a first release.
func PreviousTag(tags []string, tag string) (string, error) {
	cur, err := ParseTag(tag)
	if err != nil {
		return "", err
	}
	prev := ""
	for _, v := range SortTags(tags) {
		if v.precedence(cur) >= 0 {
			break
		}
		if !cur.Prerelease() && v.Prerelease() {
			continue
		}
		prev = v.tag
	}
	return prev, nil
}
