//go:build !unix

package magebin

import (
	"fmt"
	"os/exec"

	"github.com/magefile/mage/mage"
	"github.com/magefile/mage/sh"
)

// lockFile has no cross-process lock off Unix: runs there compile one at a
// time only by luck, as plain mage does.
func lockFile(string, func()) (func(), error) { return func() {}, nil }

// exec runs the compiled magefiles as a child and passes its exit code on.
func (r Runner) exec(bin string, inv mage.Invocation) int {
	c := exec.Command(bin, inv.Args...) // #nosec G204 -- the binary this package just compiled from the magefiles
	c.Stdout, c.Stderr, c.Stdin = r.Stdout, r.Stderr, r.Stdin
	c.Env = env(inv)
	err := c.Run()
	if !sh.CmdRan(err) {
		fmt.Fprintf(r.Stderr, "Error: run compiled magefiles: %v\n", err)
	}
	return sh.ExitStatus(err)
}
