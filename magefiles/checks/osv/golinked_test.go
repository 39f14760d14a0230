package osv

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAffectsVersion(t *testing.T) {
	ranges := []Range{{Type: "SEMVER", Events: []Event{{Introduced: "0"}, {Fixed: "1.2.0"}, {Introduced: "1.5.0"}, {Fixed: "1.6.0"}}}}
	tests := []struct {
		version string
		want    bool
	}{
		{"1.1.9", true}, {"v1.1.9", true}, {"1.2.0", false}, {"1.3.0", false}, {"1.5.0", true}, {"1.5.9", true}, {"1.6.0", false},
		{"not-a-version", true}, // unknown: counted, so nothing is missed
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, affectsVersion(ranges, tt.version), tt.version)
	}
	assert.True(t, affectsVersion([]Range{{Type: "SEMVER", Events: []Event{{Introduced: "1.0.0"}, {LastAffected: "1.4.0"}}}}, "1.4.0"))
	assert.False(t, affectsVersion([]Range{{Type: "SEMVER", Events: []Event{{Introduced: "1.0.0"}, {LastAffected: "1.4.0"}}}}, "1.4.1"))
}

func TestGoLinkedAffected(t *testing.T) {
	src := t.TempDir()
	write := func(id, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(src, id+".json"), []byte(body), 0o600))
	}
	write("GO-1", `{"id": "GO-1", "affected": [{"package": {"name": "example.com/m", "ecosystem": "Go"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.0"}]}], "ecosystem_specific": {"imports": [{"path": "example.com/m/bad"}]}}]}`)
	write("GO-2", `{"id": "GO-2", "affected": [{"package": {"name": "stdlib", "ecosystem": "Go"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.27.2"}]}], "ecosystem_specific": {"imports": [{"path": "net/http"}]}}]}`)
	write("GO-3", `{"id": "GO-3", "affected": [{"package": {"name": "example.com/whole", "ecosystem": "Go"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}`)
	dir := filepath.Join(t.TempDir(), "db")
	_, err := BuildGoIndex(src, dir, time.Now())
	require.NoError(t, err)

	linked := []GoPackage{
		{ImportPath: "example.com/m/good", Module: "example.com/m", Version: "v1.1.0"},
		{ImportPath: "example.com/app"},
		{ImportPath: "net/http"},
	}
	got, err := GoLinkedAffected(dir, linked, "go1.27.3")
	require.NoError(t, err)
	assert.Empty(t, got, "m/bad is not linked; net/http is fixed in the Go linked")

	linked = append(linked,
		GoPackage{ImportPath: "example.com/m/bad", Module: "example.com/m", Version: "v1.1.0"},
		GoPackage{ImportPath: "example.com/whole/x", Module: "example.com/whole", Version: "v0.3.0"})
	got, err = GoLinkedAffected(dir, linked, "go1.27.1")
	require.NoError(t, err)
	assert.Equal(t, []string{"GO-1 example.com/m/bad", "GO-2 net/http", "GO-3 example.com/whole/x"}, got)

	linked[0].Version, linked[3].Version = "v1.2.0", "v1.2.0" // one module, one version
	got, err = GoLinkedAffected(dir, linked, "go1.27.3")
	require.NoError(t, err)
	assert.Equal(t, []string{"GO-3 example.com/whole/x"}, got, "m is fixed at v1.2.0")

	_, err = GoLinkedAffected(t.TempDir(), linked, "go1.27.3")
	assert.ErrorContains(t, err, "vulnerability index")
}
