// Package cputime counts the CPU time of the commands a piece of work
// runs: the pipeline gives each check a Meter in its context, the tool
// runner adds every finished command's user and system time to it, and
// the report shows a check's CPU beside its wall time. The two differ
// most for the checks that wait (a release against a served emulator)
// and for those that keep every core busy, which is what decides how
// checks share a machine.
package cputime

import (
	"context"
	"sync/atomic"
	"time"
)

// Meter sums CPU time; safe for concurrent use.
type Meter struct{ ns atomic.Int64 }

// Add counts d.
func (m *Meter) Add(d time.Duration) { m.ns.Add(int64(d)) }

// Total is the time counted so far.
func (m *Meter) Total() time.Duration { return time.Duration(m.ns.Load()) }

type meterKey struct{}

// With returns a context whose commands are counted by m.
func With(ctx context.Context, m *Meter) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

// Add counts d on ctx's meter; without one it does nothing.
func Add(ctx context.Context, d time.Duration) {
	if m, ok := ctx.Value(meterKey{}).(*Meter); ok {
		m.Add(d)
	}
}
