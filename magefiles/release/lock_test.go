package release

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeNow) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

func newTestLocker(t *testing.T, clock *fakeNow) *Locker {
	return &Locker{Env: "prod", Store: DirStore{Dir: t.TempDir()}, Path: "/root/state/deploy-prod.lock.json", TTL: time.Hour, Now: clock.Now}
}

func TestLockAcquireRelease(t *testing.T) {
	ctx := context.Background()
	clock := &fakeNow{t: t0}
	l := newTestLocker(t, clock)

	cur, err := l.Current(ctx)
	require.NoError(t, err)
	assert.Nil(t, cur)

	h, err := l.Acquire(ctx, Lock{Holder: "alice@laptop", Release: "v1.0.0"})
	require.NoError(t, err)
	assert.Equal(t, t0.Add(time.Hour), h.Expiry)

	_, err = l.Acquire(ctx, Lock{Holder: "bob@ci", Release: "v1.1.0"})
	var le *LockedError
	require.ErrorAs(t, err, &le)
	assert.ErrorIs(t, err, ErrLocked)
	assert.Equal(t, "alice@laptop", le.Current.Holder)
	assert.Contains(t, err.Error(), "prod is locked by alice@laptop (release v1.0.0)")
	assert.Contains(t, err.Error(), "mage unlock prod")

	require.NoError(t, h.Release(ctx))
	cur, err = l.Current(ctx)
	require.NoError(t, err)
	assert.Nil(t, cur, "released")

	h2, err := l.Acquire(ctx, Lock{Holder: "bob@ci", Release: "v1.1.0"})
	require.NoError(t, err)
	assert.Equal(t, "bob@ci", h2.Holder)
}

func TestLockStaleIsTakenOver(t *testing.T) {
	ctx := context.Background()
	clock := &fakeNow{t: t0}
	l := newTestLocker(t, clock)
	var logs []string
	l.Logf = func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }

	dead, err := l.Acquire(ctx, Lock{Holder: "crashed@ci", Release: "v1.0.0"})
	require.NoError(t, err)
	clock.Advance(59 * time.Minute)
	_, err = l.Acquire(ctx, Lock{Holder: "bob@ci", Release: "v1.1.0"})
	require.ErrorIs(t, err, ErrLocked, "not yet stale")

	clock.Advance(2 * time.Minute)
	h, err := l.Acquire(ctx, Lock{Holder: "bob@ci", Release: "v1.1.0"})
	require.NoError(t, err)
	assert.Equal(t, "bob@ci", h.Holder)
	require.Len(t, logs, 1)
	assert.Contains(t, logs[0], "taking over the lock held by crashed@ci")
	assert.Contains(t, logs[0], "expired")

	// The dead holder coming back must not remove the new lock.
	assert.ErrorContains(t, dead.Release(ctx), "now held by bob@ci")
	cur, err := l.Current(ctx)
	require.NoError(t, err)
	assert.Equal(t, h.ID, cur.ID)
}

func TestLockRefreshAndBreak(t *testing.T) {
	ctx := context.Background()
	clock := &fakeNow{t: t0}
	l := newTestLocker(t, clock)
	h, err := l.Acquire(ctx, Lock{Holder: "alice", Release: "v1.0.0"})
	require.NoError(t, err)
	clock.Advance(50 * time.Minute)
	require.NoError(t, h.Refresh(ctx))
	clock.Advance(50 * time.Minute)
	_, err = l.Acquire(ctx, Lock{Holder: "bob", Release: "v1.0.1"})
	require.ErrorIs(t, err, ErrLocked, "refreshed lock still live")

	broken, err := l.Break(ctx)
	require.NoError(t, err)
	assert.Equal(t, "alice", broken.Holder)
	assert.ErrorContains(t, h.Release(ctx), "already gone")
	assert.ErrorContains(t, h.Refresh(ctx), "no longer held")

	none, err := l.Break(ctx)
	require.NoError(t, err)
	assert.Nil(t, none)
}

func TestLockConcurrentAcquireOneWins(t *testing.T) {
	ctx := context.Background()
	clock := &fakeNow{t: t0}
	l := newTestLocker(t, clock)
	const n = 8
	var wg sync.WaitGroup
	wins := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if h, err := l.Acquire(ctx, Lock{Holder: fmt.Sprintf("p%d", i), Release: "v1.0.0"}); err == nil {
				wins <- h.Holder
			} else {
				assert.ErrorIs(t, err, ErrLocked)
			}
		}(i)
	}
	wg.Wait()
	close(wins)
	assert.Len(t, wins, 1)
}

func TestLockUnreadableBlocks(t *testing.T) {
	ctx := context.Background()
	clock := &fakeNow{t: t0}
	l := newTestLocker(t, clock)
	require.NoError(t, l.Store.Write(ctx, l.Path, []byte("garbage"), true))
	_, err := l.Acquire(ctx, Lock{Holder: "alice", Release: "v1.0.0"})
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), "unreadable")
}

func TestLockTakeOverDeadHolder(t *testing.T) {
	ctx := context.Background()
	clock := &fakeNow{t: t0}
	l := newTestLocker(t, clock)
	_, err := l.Acquire(ctx, Lock{Holder: "ci", Release: "v1.0.0", CIRun: "run-7"})
	require.NoError(t, err)
	l.TakeOver = func(cur Lock) (string, bool) {
		return "a previous attempt of CI run " + cur.CIRun, cur.CIRun == "run-7"
	}
	var logs []string
	l.Logf = func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
	h, err := l.Acquire(ctx, Lock{Holder: "ci", Release: "v1.0.0", CIRun: "run-7"})
	require.NoError(t, err)
	assert.Equal(t, "run-7", h.CIRun)
	require.Len(t, logs, 1)
	assert.Contains(t, logs[0], "a previous attempt of CI run run-7")

	l.TakeOver = func(Lock) (string, bool) { return "", false }
	_, err = l.Acquire(ctx, Lock{Holder: "other", Release: "v1.0.0"})
	assert.ErrorIs(t, err, ErrLocked)
}
