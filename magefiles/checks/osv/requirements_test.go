package osv

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRequirements(t *testing.T) {
	in := `# comment
mlflow>=2.9,<3
pandas >= 1.5, < 3  # inline comment
Requests[security]==2.19.0 ; python_version >= "3.8"
-r other.txt
--index-url https://example.invalid/simple
git+https://example.invalid/x.git#egg=x
Django~=4.2.1 \
    --hash=sha256:abc
zope.interface
`
	reqs, errs := ParseRequirements(strings.NewReader(in), "requirements.txt")
	require.Empty(t, errs)
	got := map[string][2]any{}
	for _, r := range reqs {
		got[r.Name] = [2]any{r.Spec, r.Line}
	}
	assert.Equal(t, map[string][2]any{
		"mlflow":         {">=2.9,<3", 2},
		"pandas":         {">=1.5,<3", 3},
		"requests":       {"==2.19.0", 4},
		"django":         {"~=4.2.1", 8},
		"zope-interface": {"", 10},
	}, got)
	for _, r := range reqs {
		assert.Equal(t, "requirements.txt", r.File)
		assert.Equal(t, r.Name == "requests", r.Pinned(), r.Name)
	}
}

func TestParseRequirementsReportsBadLines(t *testing.T) {
	reqs, errs := ParseRequirements(strings.NewReader("ok==1.0\nbad==not-a-version\n!!!\n"), "req.txt")
	require.Len(t, reqs, 1)
	require.Len(t, errs, 2)
	assert.Contains(t, errs[0].Error(), "req.txt:2:")
	assert.Contains(t, errs[1].Error(), "req.txt:3:")
}

func TestAllowedInterval(t *testing.T) {
	tests := []struct {
		spec    string
		in, out []string
	}{
		{"==2.19.0", []string{"2.19", "2.19.0"}, []string{"2.19.1", "2.18"}},
		{">=2.9,<3", []string{"2.9", "2.99.1"}, []string{"2.8.9", "3.0", "3.0.1"}},
		{"~=4.2.1", []string{"4.2.1", "4.2.9"}, []string{"4.3", "4.2.0"}},
		{"~=2.2", []string{"2.2", "2.9"}, []string{"3.0", "2.1"}},
		{"==1.4.*", []string{"1.4", "1.4.7"}, []string{"1.5", "1.3.9"}},
		{">1.0,<=2.0", []string{"1.0.1", "2.0"}, []string{"1.0", "2.0.1"}},
		{"", []string{"0.1", "99"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			reqs, errs := ParseRequirements(strings.NewReader("pkg"+tt.spec+"\n"), "r.txt")
			require.Empty(t, errs)
			in, _ := reqs[0].allowed()
			for _, v := range tt.in {
				assert.True(t, in.contains(mustVersion(t, v)), "%s admits %s", tt.spec, v)
			}
			for _, v := range tt.out {
				assert.False(t, in.contains(mustVersion(t, v)), "%s excludes %s", tt.spec, v)
			}
		})
	}
}

func mustVersion(t *testing.T, s string) Version {
	t.Helper()
	v, err := ParseVersion(s)
	require.NoError(t, err)
	return v
}
