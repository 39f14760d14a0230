// Package calc is the Go side of the checks' fixture repository.
package calc

import "strings"

// Add returns the sum of a and b.
func Add(a, b int) int {
	return a + b
}

// Shout upper-cases a word.
func Shout(s string) string {
	return strings.ToUpper(s) + "!"
}
