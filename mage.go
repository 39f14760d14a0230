//go:build ignore

// Zero-install entry point: `go run mage.go <target>` runs the magefiles with
// only Go installed. Mage itself comes from go.mod, so its version is pinned
// like every other dependency. magebin compiles the magefiles once per content
// (under a lock, so concurrent runs in one checkout never collide) and runs them.
package main

import (
	"os"

	"github.com/hitl-mlops/interrupt-agent/magefiles/magebin"
)

func main() { os.Exit(magebin.Main(os.Args[1:])) }
