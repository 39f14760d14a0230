//go:build unix

package magebin

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLockWaitsForTheHolder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lock")
	unlock, err := lockFile(path, func() { t.Error("the first taker does not wait") })
	require.NoError(t, err)

	acquired := make(chan struct{})
	waited := make(chan struct{}, 1)
	go func() {
		second, err := lockFile(path, func() { waited <- struct{}{} })
		if err == nil {
			close(acquired)
			second()
		}
	}()
	<-waited // the second taker has seen the lock held...
	select {
	case <-acquired:
		t.Fatal("the second taker got the lock while the first held it")
	default:
	}
	unlock() // ...and gets it once the first lets go.
	<-acquired
}
