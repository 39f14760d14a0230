package rollout

import (
	"context"
	"time"
)

// Clock tells the time and sleeps. The rollout waits out its analysis
// intervals and its READY polls through it, so tests and the demo can run a
// 60-second interval in milliseconds. cd.Clock is this clock.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done, then returns ctx.Err().
	Sleep(ctx context.Context, d time.Duration) error
}

// WallClock is the real clock.
type WallClock struct{}

// Now implements Clock.
func (WallClock) Now() time.Time { return time.Now() }

// Sleep implements Clock.
func (WallClock) Sleep(ctx context.Context, d time.Duration) error {
	return sleep(ctx, d)
}

// ScaledClock runs service time faster than wall time: Sleep(d) waits
// d x Scale, and Now reports Start plus the wall time elapsed divided by
// Scale, so durations measured with it read in service time. Use the
// emulator's Options.TimeScale as Scale (0.01 for the demo).
type ScaledClock struct {
	Scale float64
	start time.Time
	wall  time.Time
}

// NewScaledClock returns a clock whose service time starts now.
func NewScaledClock(scale float64) *ScaledClock {
	now := time.Now()
	return &ScaledClock{Scale: scale, start: now, wall: now}
}

// Now implements Clock.
func (c *ScaledClock) Now() time.Time {
	if c.Scale <= 0 {
		return time.Now()
	}
	return c.start.Add(time.Duration(float64(time.Since(c.wall)) / c.Scale))
}

// Sleep implements Clock.
func (c *ScaledClock) Sleep(ctx context.Context, d time.Duration) error {
	if c.Scale > 0 {
		d = time.Duration(float64(d) * c.Scale)
	}
	return sleep(ctx, d)
}

func sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
