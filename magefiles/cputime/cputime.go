// Package cputime counts and bounds the CPU of the commands a piece of
// work runs.
//
// Counting: the pipeline gives each check a Meter in its context, the
// tool runner adds every finished command's user and system time to it,
// and the report shows a check's CPU beside its wall time. The two differ
// most for the checks that wait (a release against a served emulator)
// and for those that keep every core busy, which is what decides how
// checks share a machine.
//
// Bounding: when checks run side by side, the pipeline gives each its
// share of the cores (WithCores), and the tool runner hands the share to
// the Go programs it starts as GOMAXPROCS. A Go process that schedules
// goroutines on more cores than it gets spends CPU on finding work
// (measured on the end-to-end tests: about 15% more CPU with two cores
// than with one for the same tests), which two checks sharing two cores
// pay for in wall time.
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

type coresKey struct{}

// WithCores returns a context whose commands may keep at most n cores
// busy; n <= 0 leaves them unbounded.
func WithCores(ctx context.Context, n int) context.Context {
	if n <= 0 {
		return ctx
	}
	return context.WithValue(ctx, coresKey{}, n)
}

// Cores is ctx's bound on cores, 0 when it has none.
func Cores(ctx context.Context) int {
	n, _ := ctx.Value(coresKey{}).(int)
	return n
}
