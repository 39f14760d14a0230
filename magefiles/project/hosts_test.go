package project

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPointTargets(t *testing.T) {
	yml := "bundle:\n  name: b\n  host: keep-me\nworkspace:\n  host: https://top.example.com\ntargets:\n  dev:\n    workspace:\n      host: https://dev.example.com\n  staging:\n    workspace:\n      host: https://staging.example.com\r\n  prod:\n    workspace:\n      host:   https://prod.example.com  \nvariables:\n  host: x\n"
	got := string(pointTargets([]byte(yml), map[string]string{"dev": "http://127.0.0.1:1", "staging": "http://127.0.0.1:2"}))
	assert.Equal(t, "bundle:\n  name: b\n  host: keep-me\nworkspace:\n  host: https://top.example.com\ntargets:\n  dev:\n    workspace:\n      host: http://127.0.0.1:1\n  staging:\n    workspace:\n      host: http://127.0.0.1:2\r\n  prod:\n    workspace:\n      host:   https://prod.example.com  \nvariables:\n  host: x\n", got,
		"only the named targets' hosts change; line endings are kept")
}

// The project's own databricks.yml: every target gets its own workspace.
func TestCopyBundleHosts(t *testing.T) {
	root, err := Root()
	require.NoError(t, err)
	to := t.TempDir()
	hosts := map[string]string{"dev": "http://127.0.0.1:1", "staging": "http://127.0.0.1:2", "prod": "http://127.0.0.1:3"}
	require.NoError(t, CopyBundleHosts(root, to, hosts))
	raw, err := os.ReadFile(filepath.Join(to, "databricks.yml"))
	require.NoError(t, err)
	for _, h := range hosts {
		assert.Contains(t, string(raw), "host: "+h+"\n")
	}
	assert.NotContains(t, string(raw), "azuredatabricks.net")
}
