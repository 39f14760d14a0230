package osv

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersionOrder(t *testing.T) {
	// Each version sorts strictly before the next (PEP 440's examples).
	ordered := []string{
		"1.0.dev0", "1.0a1", "1.0a2.dev1", "1.0a2", "1.0b1", "1.0rc1", "1.0", "1.0.post1.dev0", "1.0.post1",
		"1.1", "1.10", "2!0.1",
	}
	for i := 0; i+1 < len(ordered); i++ {
		a, err := ParseVersion(ordered[i])
		require.NoError(t, err)
		b, err := ParseVersion(ordered[i+1])
		require.NoError(t, err)
		assert.Equal(t, -1, a.Compare(b), "%s < %s", ordered[i], ordered[i+1])
		assert.Equal(t, 1, b.Compare(a), "%s > %s", ordered[i+1], ordered[i])
	}
}

func TestVersionEquality(t *testing.T) {
	tests := [][2]string{
		{"2.0", "2.0.0"}, {"1.0-1", "1.0.post1"}, {"1.0RC1", "1.0rc1"}, {"v1.2", "1.2"}, {"1.0+local.7", "1.0"},
		{"1.0.alpha2", "1.0a2"}, {"1.0-dev3", "1.0.dev3"},
	}
	for _, tt := range tests {
		a, err := ParseVersion(tt[0])
		require.NoError(t, err)
		b, err := ParseVersion(tt[1])
		require.NoError(t, err)
		assert.Equal(t, 0, a.Compare(b), "%s == %s", tt[0], tt[1])
	}
}

func TestParseVersionRejects(t *testing.T) {
	for _, s := range []string{"", "latest", "1..2", "abc1.0"} {
		_, err := ParseVersion(s)
		assert.Error(t, err, s)
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.0", "2!1.0rc1.post2.dev3+local", "0", "1.0-1", "v3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		// A parsed version equals itself and round-trips its text.
		assert.Equal(t, 0, v.Compare(v))
		assert.Equal(t, strings.TrimSpace(s), v.String())
	})
}
