package release

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Lock is the content of an environment's deploy lock file.
type Lock struct {
	ID      string    `json:"id"` // random, tells two holders with the same name apart
	Env     string    `json:"env"`
	Holder  string    `json:"holder"` // who: user@machine, or the CI run
	Release string    `json:"release"`
	Started time.Time `json:"started"`
	Expiry  time.Time `json:"expiry"`
	// Machine, PID and CIRun identify the process, so a re-run can tell its
	// own interrupted attempt from a live deploy (see Locker.TakeOver).
	Machine string `json:"machine,omitempty"`
	PID     int    `json:"pid,omitempty"`
	CIRun   string `json:"ci_run,omitempty"`
}

// ErrLocked is wrapped by *LockedError.
var ErrLocked = errors.New("environment is locked")

// LockedError says who holds the lock and what to do.
type LockedError struct {
	Current Lock
	Now     time.Time
}

func (e *LockedError) Error() string {
	c := e.Current
	return fmt.Sprintf("%s is locked by %s (release %s) since %s, until %s (%s from now): another deploy is running; wait for it, or if it died run `mage unlock %s`",
		c.Env, c.Holder, c.Release, c.Started.Format(time.RFC3339), c.Expiry.Format(time.RFC3339),
		c.Expiry.Sub(e.Now).Round(time.Second), c.Env)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// DefaultLockTTL bounds how long a lock from a dead process blocks others.
const DefaultLockTTL = 2 * time.Hour

// Locker manages one environment's lock file in a Store.
type Locker struct {
	Env   string
	Store Store
	Path  string
	// TTL is how long an acquired lock is valid; default DefaultLockTTL.
	TTL time.Duration
	Now func() time.Time
	// Logf, when set, hears about stale locks being taken over.
	Logf func(format string, args ...any)
	// TakeOver, when set, may declare a live lock dead (its process is
	// gone): it returns why, and true to replace the lock.
	TakeOver func(current Lock) (reason string, ok bool)
}

func (l *Locker) now() time.Time {
	if l.Now != nil {
		return l.Now().UTC()
	}
	return time.Now().UTC()
}

func (l *Locker) ttl() time.Duration {
	if l.TTL > 0 {
		return l.TTL
	}
	return DefaultLockTTL
}

func (l *Locker) logf(format string, args ...any) {
	if l.Logf != nil {
		l.Logf(format, args...)
	}
}

// Held is an acquired lock; Release it in a defer.
type Held struct {
	Lock
	locker *Locker
}

// Acquire takes the lock atomically (create-if-absent in the store) for
// who (Holder, Release and the process fields; the rest is filled in). A
// lock past its expiry is stale, and one TakeOver declares dead is treated
// the same: it is replaced, and said so. A live lock is a *LockedError.
func (l *Locker) Acquire(ctx context.Context, who Lock) (*Held, error) {
	now := l.now()
	lk := who
	lk.ID, lk.Env, lk.Started, lk.Expiry = randomID(), l.Env, now, now.Add(l.ttl())
	raw, err := json.MarshalIndent(lk, "", "  ")
	if err != nil {
		return nil, err
	}
	// Two rounds: the second one after removing a stale lock.
	for round := 0; round < 2; round++ {
		err := l.Store.Write(ctx, l.Path, raw, false)
		if err == nil {
			return &Held{Lock: lk, locker: l}, nil
		}
		if !errors.Is(err, ErrExist) {
			return nil, fmt.Errorf("lock %s (%s): %w", l.Env, l.Path, err)
		}
		cur, err := l.Current(ctx)
		if err != nil {
			return nil, err
		}
		if cur == nil {
			continue // released between our write and read: try again
		}
		reason := "expired " + cur.Expiry.Format(time.RFC3339)
		if now.Before(cur.Expiry) {
			why, ok := "", false
			if l.TakeOver != nil {
				why, ok = l.TakeOver(*cur)
			}
			if !ok {
				return nil, &LockedError{Current: *cur, Now: now}
			}
			reason = why
		}
		l.logf("lock %s: taking over the lock held by %s (release %s) since %s: %s",
			l.Env, cur.Holder, cur.Release, cur.Started.Format(time.RFC3339), reason)
		if err := l.deleteIf(ctx, cur.ID); err != nil {
			return nil, err
		}
	}
	cur, err := l.Current(ctx)
	if err == nil && cur != nil {
		return nil, &LockedError{Current: *cur, Now: now}
	}
	return nil, fmt.Errorf("lock %s (%s): could not acquire", l.Env, l.Path)
}

// Current returns the lock as stored, or nil when the environment is unlocked.
func (l *Locker) Current(ctx context.Context) (*Lock, error) {
	raw, err := l.Store.Read(ctx, l.Path)
	if errors.Is(err, ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: read %s: %w", l.Env, l.Path, err)
	}
	var cur Lock
	if err := json.Unmarshal(raw, &cur); err != nil {
		// An unreadable lock still blocks; it can be broken explicitly.
		return &Lock{ID: "unreadable", Env: l.Env, Holder: "unknown (unreadable lock file)", Expiry: l.now().Add(time.Hour)}, nil
	}
	return &cur, nil
}

// deleteIf removes the lock file if it still holds id. The check and the
// delete are two calls; the workspace has no compare-and-delete.
func (l *Locker) deleteIf(ctx context.Context, id string) error {
	cur, err := l.Current(ctx)
	if err != nil || cur == nil {
		return err
	}
	if cur.ID != id {
		return &LockedError{Current: *cur, Now: l.now()}
	}
	if err := l.Store.Delete(ctx, l.Path); err != nil && !errors.Is(err, ErrNotExist) {
		return fmt.Errorf("lock %s: remove %s: %w", l.Env, l.Path, err)
	}
	return nil
}

// Break removes the lock whoever holds it (`mage unlock`), returning what
// was removed (nil when there was no lock).
func (l *Locker) Break(ctx context.Context) (*Lock, error) {
	cur, err := l.Current(ctx)
	if err != nil || cur == nil {
		return cur, err
	}
	if err := l.Store.Delete(ctx, l.Path); err != nil && !errors.Is(err, ErrNotExist) {
		return nil, fmt.Errorf("lock %s: remove %s: %w", l.Env, l.Path, err)
	}
	return cur, nil
}

// Release removes the lock if it is still this holder's. A lock that was
// broken and taken by someone else is left alone, with an error saying so.
func (h *Held) Release(ctx context.Context) error {
	cur, err := h.locker.Current(ctx)
	if err != nil {
		return err
	}
	if cur == nil {
		return fmt.Errorf("lock %s: already gone at release (broken with `mage unlock`?)", h.Env)
	}
	if cur.ID != h.ID {
		return fmt.Errorf("lock %s: now held by %s, not released", h.Env, cur.Holder)
	}
	return h.locker.deleteIf(ctx, h.ID)
}

// Refresh extends the expiry by the TTL from now, for long deploys.
func (h *Held) Refresh(ctx context.Context) error {
	cur, err := h.locker.Current(ctx)
	if err != nil {
		return err
	}
	if cur == nil || cur.ID != h.ID {
		return fmt.Errorf("lock %s: no longer held (broken or expired and taken over)", h.Env)
	}
	h.Expiry = h.locker.now().Add(h.locker.ttl())
	raw, err := json.MarshalIndent(h.Lock, "", "  ")
	if err != nil {
		return err
	}
	return h.locker.Store.Write(ctx, h.locker.Path, raw, true)
}

func randomID() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("lock id: %v", err))
	}
	return hex.EncodeToString(b)
}
