package cd

import (
	"context"
	"fmt"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// Unlock runs `mage unlock <env>`: it shows who holds the environment's
// deploy lock and, once confirmed (a terminal, the GitHub environment, or
// -yes), removes it. It returns the lock removed, nil when there was none.
// Use it only when the holder is gone: a live deploy loses its lock and
// stops at its next refresh.
func Unlock(ctx context.Context, o Options) (*release.Lock, error) {
	s, err := NewState(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := runStages(ctx, s, LoadConfig{}, CheckInputs{Approve: true}, Connect{}); err != nil {
		return nil, err
	}
	l := s.Locker()
	cur, err := l.Current(ctx)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		s.Printf("%s is not locked: nothing to do\n", s.Config.Env)
		return nil, nil
	}
	now := s.Clock.Now()
	state := fmt.Sprintf("held, expires in %s", cur.Expiry.Sub(now).Round(time.Second))
	if !now.Before(cur.Expiry) {
		state = "stale: expired " + cur.Expiry.Format(time.RFC3339) + " (the next deploy would take it over anyway)"
	}
	s.Printf("Lock of %s (%s)\n  holder:  %s\n  release: %s\n  since:   %s\n  state:   %s\n", s.Config.Env, s.Config.LockFile, cur.Holder, cur.Release, cur.Started.Format(time.RFC3339), state)
	if cur.Machine != "" {
		s.Printf("  process: %d on %s\n", cur.PID, cur.Machine)
	}
	if cur.CIRun != "" {
		s.Printf("  CI run:  %s\n", cur.CIRun)
	}
	s.confirm = func(context.Context) (string, error) {
		return fmt.Sprintf("Remove the lock of %s held by %s? Only do this when that deploy is gone. Type %q to confirm: ", s.Config.Env, cur.Holder, s.Config.Env.Name()), nil
	}
	how, err := s.approval(ctx)
	if err != nil {
		return nil, err
	}
	// The lock may have changed hands while we asked.
	again, err := l.Current(ctx)
	if err != nil {
		return nil, err
	}
	if again == nil {
		s.Printf("%s was unlocked meanwhile: nothing to do\n", s.Config.Env)
		return nil, nil
	}
	if again.ID != cur.ID {
		return nil, fmt.Errorf("the lock of %s changed hands while asking (now %s, release %s): nothing was removed; run unlock again if that one is gone too", s.Config.Env, again.Holder, again.Release)
	}
	removed, err := l.Break(ctx)
	if err != nil {
		return nil, err
	}
	s.Printf("removed the lock of %s held by %s (%s)\n", s.Config.Env, cur.Holder, how)
	if err := s.supersede(ctx, "its lock was removed with mage unlock"); err != nil {
		return removed, err
	}
	return removed, nil
}
