package core

import "time"

// Clock tells a service what time it is: the emulator's clock, which tests
// replace with one they step by hand.
type Clock interface {
	Now() time.Time
}

// WallClock is the real time.
type WallClock struct{}

// Now is time.Now.
func (WallClock) Now() time.Time { return time.Now() }
