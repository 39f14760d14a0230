//go:build ignore

// Zero-install entry point: `go run mage.go <target>` runs the magefiles with
// only Go installed. Mage itself comes from go.mod, so its version is pinned
// like every other dependency.
package main

import (
	"os"

	"github.com/magefile/mage/mage"
)

func main() { os.Exit(mage.Main()) }
