package release

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTag(t *testing.T) {
	tests := []struct {
		tag     string
		want    Version
		wantErr string
	}{
		{tag: "v1.2.3", want: Version{Major: 1, Minor: 2, Patch: 3}},
		{tag: "v0.0.0", want: Version{}},
		{tag: "v10.20.30", want: Version{Major: 10, Minor: 20, Patch: 30}},
		{tag: "v1.3.0-rc.1", want: Version{Major: 1, Minor: 3, Prerelease: "rc.1"}},
		{tag: "v2.0.0-alpha.1", want: Version{Major: 2, Prerelease: "alpha.1"}},
		{tag: "v2.0.0-beta-2.x", want: Version{Major: 2, Prerelease: "beta-2.x"}},
		{tag: "v1.2", wantErr: "want three numbers MAJOR.MINOR.PATCH, found 2"},
		{tag: "1.2.3", wantErr: "missing the leading v (did you mean v1.2.3?)"},
		{tag: "release-1", wantErr: "must start with v"},
		{tag: "", wantErr: "empty"},
		{tag: " v1.2.3", wantErr: "surrounding whitespace"},
		{tag: "v1.2.3.4", wantErr: "found 4"},
		{tag: "v01.2.3", wantErr: `major "01": leading zero`},
		{tag: "v1.x.3", wantErr: `minor "x": not a number`},
		{tag: "v1.2.", wantErr: `patch "": empty`},
		{tag: "v1.2.3-", wantErr: "empty prerelease"},
		{tag: "v1.2.3-rc..1", wantErr: "empty identifier"},
		{tag: "v1.2.3-rc.01", wantErr: "leading zero"},
		{tag: "v1.2.3-rc_1", wantErr: "character '_'"},
		{tag: "v1.2.3+build.5", wantErr: "build metadata (+build.5) is not allowed"},
		{tag: "v99999999999999999999.0.0", wantErr: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			got, err := ParseTag(tt.tag)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), TagFormat, "every tag error shows the accepted format")
				var te *TagError
				assert.ErrorAs(t, err, &te)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.tag, got.String(), "round trip")
		})
	}
}

func TestVersionStable(t *testing.T) {
	assert.True(t, MustParseTag("v1.0.0").Stable())
	assert.False(t, MustParseTag("v1.0.0-rc.1").Stable())
}

func TestVersionCompare(t *testing.T) {
	// The semver 2.0 precedence example, ascending.
	order := []string{
		"v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-alpha.beta", "v1.0.0-beta",
		"v1.0.0-beta.2", "v1.0.0-beta.11", "v1.0.0-rc.1", "v1.0.0", "v1.0.1", "v1.1.0", "v2.0.0",
	}
	for i := range order {
		for j := range order {
			a, b := MustParseTag(order[i]), MustParseTag(order[j])
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			assert.Equal(t, want, a.Compare(b), "%s vs %s", order[i], order[j])
		}
	}
}

func FuzzParseTag(f *testing.F) {
	for _, s := range []string{"v1.2.3", "v1.3.0-rc.1", "v1.2", "1.2.3", "v1.2.3+b", "v0.0.0-0.a-b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseTag(s)
		if err != nil {
			return
		}
		// Whatever parses renders back to itself and parses to the same value.
		require.Equal(t, s, v.String())
		again, err := ParseTag(v.String())
		require.NoError(t, err)
		require.Equal(t, v, again)
		require.Equal(t, 0, v.Compare(again))
	})
}
