// Package release owns what a release is and what it leaves behind: the
// version read from the git tag on HEAD (semver), the rules for which
// environments a tag may reach, the release records (journal) kept per
// environment, and the per-environment deploy lock.
package release

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a release version written as a tag: vMAJOR.MINOR.PATCH with an
// optional -PRERELEASE (semver 2.0 precedence rules).
type Version struct {
	Major, Minor, Patch uint64
	// Prerelease is the part after '-', e.g. "rc.1"; empty for a stable release.
	Prerelease string
}

// TagFormat is the accepted tag syntax, quoted in every tag error.
const TagFormat = "vMAJOR.MINOR.PATCH[-PRERELEASE] (e.g. v1.2.0 or v1.3.0-rc.1)"

// TagError reports a string that is not a release tag, and why.
type TagError struct {
	Tag    string
	Reason string
}

func (e *TagError) Error() string {
	return fmt.Sprintf("bad release tag %q: %s; want %s", e.Tag, e.Reason, TagFormat)
}

// ParseTag parses a release tag such as v1.2.3 or v1.3.0-rc.1. Tags without
// the leading v, with fewer than three numbers, with leading zeros or with
// build metadata are rejected with the reason.
func ParseTag(tag string) (Version, error) {
	bad := func(format string, args ...any) (Version, error) {
		return Version{}, &TagError{Tag: tag, Reason: fmt.Sprintf(format, args...)}
	}
	if tag == "" {
		return bad("empty")
	}
	if tag != strings.TrimSpace(tag) {
		return bad("surrounding whitespace")
	}
	if tag[0] != 'v' {
		if tag[0] >= '0' && tag[0] <= '9' {
			return bad("missing the leading v (did you mean v%s?)", tag)
		}
		return bad("must start with v")
	}
	rest := tag[1:]
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		return bad("build metadata (+%s) is not allowed in release tags", rest[i+1:])
	}
	core, pre, hasPre := strings.Cut(rest, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return bad("want three numbers MAJOR.MINOR.PATCH, found %d", len(parts))
	}
	var nums [3]uint64
	for i, p := range parts {
		n, err := parseNumeric(p)
		if err != nil {
			return bad("%s %q: %v", [3]string{"major", "minor", "patch"}[i], p, err)
		}
		nums[i] = n
	}
	if hasPre {
		if pre == "" {
			return bad("empty prerelease after '-'")
		}
		for _, id := range strings.Split(pre, ".") {
			if err := checkPrereleaseID(id); err != nil {
				return bad("prerelease %q: %v", pre, err)
			}
		}
	}
	return Version{Major: nums[0], Minor: nums[1], Patch: nums[2], Prerelease: pre}, nil
}

// MustParseTag is ParseTag for constants in tests and examples; it panics on error.
func MustParseTag(tag string) Version {
	v, err := ParseTag(tag)
	if err != nil {
		panic(err)
	}
	return v
}

func parseNumeric(s string) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a number")
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("leading zero")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("out of range")
	}
	return n, nil
}

func checkPrereleaseID(id string) error {
	if id == "" {
		return fmt.Errorf("empty identifier")
	}
	numeric := true
	for _, c := range id {
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
			numeric = false
		default:
			return fmt.Errorf("character %q (allowed: letters, digits, '-', '.')", c)
		}
	}
	if numeric && len(id) > 1 && id[0] == '0' {
		return fmt.Errorf("numeric identifier %q has a leading zero", id)
	}
	return nil
}

// String renders the tag form, e.g. v1.3.0-rc.1.
func (v Version) String() string {
	s := fmt.Sprintf("v%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.Prerelease != "" {
		s += "-" + v.Prerelease
	}
	return s
}

// Stable reports whether v has no prerelease part: only stable versions go to prod.
func (v Version) Stable() bool { return v.Prerelease == "" }

// IsZero reports whether v is the zero value (no version).
func (v Version) IsZero() bool { return v == Version{} }

// Compare orders versions by semver precedence: -1 if v < o, 0 if equal, +1 if v > o.
func (v Version) Compare(o Version) int {
	for _, d := range [3][2]uint64{{v.Major, o.Major}, {v.Minor, o.Minor}, {v.Patch, o.Patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	return comparePrerelease(v.Prerelease, o.Prerelease)
}

// comparePrerelease: a stable version outranks its prereleases; identifiers
// compare numerically when both are numbers, else lexically; numbers sort
// before words; a longer list wins when all shared identifiers are equal.
func comparePrerelease(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if c := compareIdentifier(as[i], bs[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(as) < len(bs):
		return -1
	case len(as) > len(bs):
		return 1
	}
	return 0
}

func compareIdentifier(a, b string) int {
	an, aErr := strconv.ParseUint(a, 10, 64)
	bn, bErr := strconv.ParseUint(b, 10, 64)
	switch {
	case aErr == nil && bErr == nil:
		switch {
		case an < bn:
			return -1
		case an > bn:
			return 1
		}
		return 0
	case aErr == nil:
		return -1
	case bErr == nil:
		return 1
	}
	return strings.Compare(a, b)
}
