package targets

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// emulator:serve takes -workspaces and refuses a bad list before it serves.
func TestEmulatorServeWorkspacesFlag(t *testing.T) {
	out, err := mage(t, "emulator:serve", "-workspaces=dev,Dev")
	require.Error(t, err)
	assert.Contains(t, out, `workspace name "Dev"`)
	out, err = mage(t, "emulator:serve", "-workspaces=dev,dev")
	require.Error(t, err)
	assert.Contains(t, out, `"dev" named twice`)
}
