package core

import (
	"sync"
	"time"
)

// Clock tells a service what time it is: the emulator's clock, which tests
// replace with one they step by hand.
type Clock interface {
	Now() time.Time
}

// WallClock is the real time.
type WallClock struct{}

// Now is time.Now.
func (WallClock) Now() time.Time { return time.Now() }

// ManualClock is a Clock that moves only when told to.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a clock stopped at start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Scaled is the real time a service-time duration d takes at scale (real
// time per unit of service time; 0 makes every duration instant).
func Scaled(d time.Duration, scale float64) time.Duration {
	return time.Duration(float64(d) * scale)
}
