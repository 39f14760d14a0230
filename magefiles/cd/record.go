package cd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// BeginRecord opens the run's release record in the environment's
// journal, which keeps one record per deploy or rollback: a deploy's, or
// with Rollback a rollback's (one type, so both flows show the same
// "record" stage). A deploy resumes the record an interrupted deploy of the
// same release left in progress or failed. The run holds the lock, so a
// record a dead run left in progress is closed first (superseded).
type BeginRecord struct {
	// Rollback opens a KindRollback record of the chosen RollbackPlan.
	Rollback bool
}

// Name implements Stage.
func (BeginRecord) Name() string { return "record" }

// Run implements Stage.
func (b BeginRecord) Run(ctx context.Context, s *State) error {
	if b.Rollback {
		return s.beginRollbackRecord(ctx)
	}
	return s.beginDeployRecord(ctx)
}

// beginDeployRecord opens or resumes the deploy's record and announces
// the deploy.
func (s *State) beginDeployRecord(ctx context.Context) error {
	latest, err := s.Journal.Latest(ctx)
	if err != nil && !errors.Is(err, release.ErrNoRecord) {
		return err
	}
	resumed := s.resumable(latest)
	if resumed {
		s.resume(latest)
	} else {
		// A run of a different release died: this deploy holds the lock,
		// so that run is gone, and its record is closed.
		if err := s.supersede(ctx, "a deploy of "+s.Release.Tag+" took its place"); err != nil {
			return err
		}
		s.Record = &release.Record{
			Env: s.Config.Env.Name(), Kind: release.KindDeploy, Release: s.Release.Tag, SHA: s.Release.SHA,
			Target: s.Config.Target.Name, Host: s.Client.Host, Actor: s.Client.User, Machine: s.recordMachine(),
			Approval: s.Approval, Started: s.Clock.Now().UTC(),
		}
	}
	s.recordStages(s.Record)
	if err := s.attachValidationGate(); err != nil {
		return err
	}
	if !resumed {
		// The runner saves the record again when this stage ends.
		if err := s.Journal.Begin(ctx, s.Record); err != nil {
			return err
		}
		s.Printf("   record %s\n", s.Record.ID)
	}
	s.announce(ctx)
	return nil
}

// resumable reports whether latest is a deploy of this release, from the
// same commit, that an interrupted run left in progress or failed.
func (s *State) resumable(latest *release.Record) bool {
	return latest != nil && latest.Kind == release.KindDeploy && latest.Release == s.Release.Tag && latest.SHA == s.Release.SHA &&
		(latest.Outcome == release.OutcomeInProgress || latest.Outcome == release.OutcomeFailed)
}

// resume makes latest this run's record again, noting who resumed it.
func (s *State) resume(latest *release.Record) {
	note := fmt.Sprintf("resumed at %s by %s after %s", s.Clock.Now().UTC().Format(time.RFC3339), s.Client.User, latest.Outcome)
	if latest.Error != "" {
		note += ": " + latest.Error
	}
	latest.Notes = append(latest.Notes, note)
	latest.Outcome, latest.Error, latest.Finished = release.OutcomeInProgress, "", nil
	latest.Actor, latest.Machine, latest.Approval = s.Client.User, s.recordMachine(), s.Approval
	s.Record = latest
	s.Printf("   resuming record %s (%s)\n", latest.ID, note)
}

// beginRollbackRecord opens the rollback's record.
func (s *State) beginRollbackRecord(ctx context.Context) error {
	rec, err := s.rollbackRecord()
	if err != nil {
		return err
	}
	s.recordStages(rec)
	if err := s.supersede(ctx, "a rollback to "+s.Rollback.describeTarget()+" took its place"); err != nil {
		return err
	}
	if err := s.Journal.Begin(ctx, rec); err != nil {
		return err
	}
	s.Record = rec
	s.Printf("   record %s\n", rec.ID)
	return nil
}

// recordMachine is where the run runs, as its record says: the CI run, or
// this machine.
func (s *State) recordMachine() string {
	if ci := s.ciRunURL(); ci != "" {
		return ci
	}
	machine, _ := s.process()
	return machine
}

// recordStages puts the stages run so far into rec.
func (s *State) recordStages(rec *release.Record) {
	for _, st := range s.Stages {
		rec.SetStage(st)
	}
}

// supersede closes the record a dead run left in progress (the caller
// holds the lock), saying so.
func (s *State) supersede(ctx context.Context, why string) error {
	old, err := s.Journal.Supersede(ctx, s.Client.User, why)
	if err != nil {
		return fmt.Errorf("close the record a dead run left: %w", err)
	}
	if old != nil {
		s.Printf("   record %s (%s %s) was left in progress by a run that is gone: marked superseded\n", old.ID, old.Kind, old.Release)
	}
	return nil
}

// resumedOK reports whether a resumed record shows stage done.
func (s *State) resumedOK(stage string) bool {
	if s.Record == nil {
		return false
	}
	st := s.Record.Stage(stage)
	return st != nil && st.Status == release.StageOK
}
