package releasenotes

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTag(t *testing.T) {
	tests := []struct {
		tag     string
		want    Version
		wantErr bool
	}{
		{tag: "v1.2.3", want: Version{Major: 1, Minor: 2, Patch: 3}},
		{tag: "v0.0.0", want: Version{}},
		{tag: "v1.0.0-rc.1", want: Version{Major: 1, Pre: []string{"rc", "1"}}},
		{tag: "v1.0.0-alpha-2.x+build.7", want: Version{Major: 1, Pre: []string{"alpha-2", "x"}, Build: "build.7"}},
		{tag: "1.2.3", wantErr: true},
		{tag: "v1.2", wantErr: true},
		{tag: "v01.2.3", wantErr: true},
		{tag: "v1.2.3-", wantErr: true},
		{tag: "v1.2.3-01", wantErr: true},
		{tag: "v1.2.3-rc..1", wantErr: true},
		{tag: "v99999999999999999999.0.0", wantErr: true},
		{tag: "latest", wantErr: true},
		{tag: "-v1.0.0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			v, err := ParseTag(tt.tag)
			if tt.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.tag)
				return
			}
			require.NoError(t, err)
			tt.want.tag = tt.tag
			assert.Equal(t, tt.want, v)
			assert.Equal(t, tt.tag, v.String())
		})
	}
}

func TestSortTagsBySemver(t *testing.T) {
	// The order of semver 2.0 section 11, shuffled, plus tags that are not releases.
	in := []string{
		"v1.0.0", "v1.0.0-rc.1", "v1.10.0", "latest", "v1.0.0-alpha.beta", "v1.9.0",
		"v1.0.0-beta.11", "v1.0.0-alpha", "v1.0.0-beta", "v1.0.0-alpha.1", "v1.0.0-beta.2", "v2",
		"v0.9.9", "v1.0.0+build.2", "v1.0.0+build.1",
	}
	var got []string
	for _, v := range SortTags(in) {
		got = append(got, v.String())
	}
	assert.Equal(t, []string{
		"v0.9.9",
		"v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-alpha.beta", "v1.0.0-beta", "v1.0.0-beta.2",
		"v1.0.0-beta.11", "v1.0.0-rc.1", "v1.0.0", "v1.0.0+build.1", "v1.0.0+build.2",
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
		{"same precedence with build metadata is not previous", "v1.9.0+meta", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PreviousTag(tags, tt.tag)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	_, err := PreviousTag(tags, "release-1")
	assert.ErrorContains(t, err, `tag "release-1" is not a release tag`)
}

func FuzzParseTag(f *testing.F) {
	for _, s := range []string{"v1.2.3", "v1.0.0-rc.1+b.2", "v0.0.0-0", "v1.2", "v1.2.3-x.01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseTag(s)
		if err != nil {
			return
		}
		// A parsed tag round-trips and compares equal to itself.
		assert.Equal(t, s, v.String())
		assert.Equal(t, 0, v.Compare(v))
		again, err := ParseTag(s)
		require.NoError(t, err)
		assert.Equal(t, v, again)
	})
}
