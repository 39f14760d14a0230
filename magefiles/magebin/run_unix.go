//go:build unix

package magebin

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/magefile/mage/mage"
)

// lockFile takes an exclusive flock on path, calling waiting once when
// another process holds it. The kernel drops the lock if the holder dies,
// so a killed run never leaves the checkout locked.
func lockFile(path string, waiting func()) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600) // #nosec G304 -- the lock file in this checkout's cache
	if err != nil {
		return nil, fmt.Errorf("compile lock: %w", err)
	}
	fd := int(f.Fd()) // #nosec G115 -- a file descriptor fits an int
	if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
		waiting()
		err = syscall.Flock(fd, syscall.LOCK_EX)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("compile lock %s: %w", path, err)
		}
	} else if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("compile lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(fd, syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

// exec replaces this process with the compiled magefiles, so signals,
// the terminal and the exit code belong to the targets directly.
func (r Runner) exec(bin string, inv mage.Invocation) int {
	argv := append([]string{bin}, inv.Args...)
	err := syscall.Exec(bin, argv, env(inv)) // #nosec G204 -- the binary this package just compiled from the magefiles
	fmt.Fprintf(r.Stderr, "Error: run compiled magefiles: %v\n", err)
	return 1
}
