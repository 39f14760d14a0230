//go:build mage

// Package main holds the Mage targets of this repository. Targets stay thin:
// they parse arguments, build state and call a package under magefiles/.
package main
