package releasenotes

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSortTagsBySemver(t *testing.T) {
	// The order of semver 2.0 section 11, shuffled, plus tags that are not releases.
	in := []string{
		"v1.0.0", "v1.0.0-rc.1", "v1.10.0", "latest", "v1.0.0-alpha.beta", "v1.9.0",
		"v1.0.0-beta.11", "v1.0.0-alpha", "v1.0.0-beta", "v1.0.0-alpha.1", "v1.0.0-beta.2", "v2",
		"v0.9.9", "v1.0.0+build.2", "v1.0.0+build.1", // build metadata: not a release tag here
	}
	var got []string
	for _, v := range SortTags(in) {
		got = append(got, v.String())
	}
	assert.Equal(t, []string{
		"v0.9.9",
		"v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-alpha.beta", "v1.0.0-beta", "v1.0.0-beta.2",
		"v1.0.0-beta.11", "v1.0.0-rc.1", "v1.0.0",
		"v1.9.0", "v1.10.0",
	}, got)
}

func TestPreviousTag(t *testing.T) {
	tags := []string{"v1.10.0", "v1.9.0", "v1.9.1-rc.1", "v1.10.0-rc.1", "v1.10.0-rc.2", "v2.0.0-beta.1", "nightly", ""}
	tests := []struct {
		name, tag, want string
	}{
		{"final release skips its release candidates", "v1.10.0", "v1.9.0"},
		{"semver order, not string order", "v1.11.0", "v1.10.0"},
		{"prerelease starts at the tag just below", "v1.10.0-rc.2", "v1.10.0-rc.1"},
		{"first prerelease starts at the last release", "v1.10.0-rc.1", "v1.9.1-rc.1"},
		{"prerelease of a new major", "v2.0.0-beta.2", "v2.0.0-beta.1"},
		{"first release", "v1.9.0", ""},
		{"older than everything", "v0.1.0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PreviousTag(tags, tt.tag)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	_, err := PreviousTag(tags, "release-1")
	assert.ErrorContains(t, err, `bad release tag "release-1"`)
}
