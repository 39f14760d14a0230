package cd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fatih/color"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// Stage is one step of a flow.
type Stage interface {
	// Name is short and stable: it labels output, the release record's
	// progress and the CD_TEST_EXIT_AFTER_STAGE hook.
	Name() string
	Run(ctx context.Context, s *State) error
}

// SkipError says a stage did nothing, and why. It is not a failure.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return "skipped: " + e.Reason }

// Skip returns a SkipError.
func Skip(format string, args ...any) error {
	return &SkipError{Reason: fmt.Sprintf(format, args...)}
}

// IsSkip reports whether err is a skip, and its reason.
func IsSkip(err error) (string, bool) {
	var se *SkipError
	if errors.As(err, &se) {
		return se.Reason, true
	}
	return "", false
}

// Event is what Options.Observe hears: a stage starting or ending, or a
// wait ending.
type Event struct {
	Kind  string // "stage-start", "stage-end", "wait"
	Stage string
	Time  time.Time
	// For stage-end: how it went.
	Status   release.StageStatus
	Duration time.Duration
	// For wait.
	Wait *WaitStat
}

// Flow is a named list of stages and what a finished run means for the
// release record.
type Flow struct {
	Name   string
	Stages []Stage
	// Success and Failure are the record's outcome when the flow ends;
	// empty leaves the outcome to the stages (verify sets its own).
	Success, Failure release.Outcome
}

// Run runs the flow's stages in order and stops at the first failure. It
// prints each stage with its time, turns skips into a visible line, keeps
// the release record's progress, honours the exit-after-stage test hook,
// and always runs the cleanups (the lock's release).
func (f Flow) Run(ctx context.Context, s *State) (err error) {
	start := s.Clock.Now()
	s.Printf("%s %s\n", s.paint(color.Bold, "▶ "+f.Name), s.paint(color.Faint, s.describeRun()))
	defer s.runCleanups(ctx)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: panic: %v", f.Name, r)
			_ = s.finishRecord(ctx, s.failure(f), err) // a failed save is printed; the panic goes on
			panic(r)
		}
	}()
	for _, st := range f.Stages {
		if err := s.runStage(ctx, st); err != nil {
			err = fmt.Errorf("%s: %s: %w", f.Name, st.Name(), err)
			_ = s.finishRecord(ctx, s.failure(f), err) // a failed save is printed; the stage's error is the one to return
			s.Printf("%s %s after %s\n", s.paint(color.FgRed, "✗"), f.Name, s.since(start))
			return err
		}
		if hook := s.Getenv(ExitAfterStageEnv); hook != "" && hook == st.Name() {
			s.Printf("exiting after stage %s (%s): lock and record left as a killed run leaves them\n", st.Name(), ExitAfterStageEnv)
			s.cleanups = nil // a killed process releases nothing
			s.Opts.Exit(ExitAfterStageCode)
			return fmt.Errorf("%s: %w %s (%s)", f.Name, ErrExitedAfterStage, st.Name(), ExitAfterStageEnv)
		}
	}
	if ferr := s.finishRecord(ctx, f.Success, nil); ferr != nil {
		return fmt.Errorf("%s: %w", f.Name, ferr)
	}
	s.Printf("%s %s in %s\n", s.paint(color.FgGreen, "✓"), f.Name, s.since(start))
	return nil
}

// ErrExitedAfterStage is wrapped by the error a flow returns when the test
// hook ended it (in tests Options.Exit returns instead of exiting): a
// killed run, which neither notifies nor cleans up.
var ErrExitedAfterStage = errors.New("exited after stage")

// failure is the record's outcome for a failed flow: the flow's, unless a
// stage said otherwise (an aborted canary).
func (s *State) failure(f Flow) release.Outcome {
	if s.failOutcome != "" && f.Failure != "" {
		return s.failOutcome
	}
	return f.Failure
}

func (s *State) describeRun() string {
	out := s.Opts.Env
	if s.Release.Tag != "" {
		out += " " + s.Release.Tag
	}
	return out
}

func (s *State) since(t time.Time) time.Duration {
	return s.Clock.Now().Sub(t).Round(time.Millisecond)
}

// runStage runs one stage with its header, timing and progress entry.
func (s *State) runStage(ctx context.Context, st Stage) error {
	start := s.Clock.Now()
	s.current = st.Name()
	s.observe(Event{Kind: "stage-start", Stage: st.Name(), Time: start})
	s.Printf("── %s\n", st.Name())
	err := ctx.Err()
	if err == nil {
		err = st.Run(ctx, s)
	}
	d := s.Clock.Now().Sub(start)
	res := release.StageResult{Name: st.Name(), Started: start.UTC(), DurationMS: d.Milliseconds(), Status: release.StageOK}
	if reason, ok := IsSkip(err); ok {
		res.Status, res.Detail, err = release.StageSkipped, reason, nil
		s.Printf("   %s %s\n", s.paint(color.FgYellow, "skipped:"), reason)
	} else if err != nil {
		res.Status, res.Detail = release.StageFailed, err.Error()
		s.Printf("   %s %s (%s)\n", s.paint(color.FgRed, "✗ failed:"), err, d.Round(time.Millisecond))
	} else {
		s.Printf("   %s %s\n", s.paint(color.FgGreen, "✓"), d.Round(time.Millisecond))
	}
	s.Stages = append(s.Stages, res)
	if s.Record != nil {
		s.Record.SetStage(res)
		if err == nil {
			// Progress is saved after every stage, so a killed run leaves
			// the last step done in the journal.
			if serr := s.Journal.Save(ctx, s.Record); serr != nil {
				err = serr
			}
		}
	}
	s.observe(Event{Kind: "stage-end", Stage: st.Name(), Time: s.Clock.Now(), Status: res.Status, Duration: d})
	return err
}

// finishRecord ends the release record with the outcome (nothing when the
// flow leaves it to the stages or no record was begun).
func (s *State) finishRecord(ctx context.Context, outcome release.Outcome, cause error) error {
	if s.Record == nil || s.Journal == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if outcome == "" {
		return s.Journal.Save(ctx, s.Record)
	}
	if err := s.Journal.Finish(ctx, s.Record, outcome, cause); err != nil {
		s.Printf("   warning: could not save the release record: %v\n", err)
		return err
	}
	return nil
}

func (s *State) observe(e Event) {
	if s.Opts.Observe != nil {
		s.Opts.Observe(e)
	}
}

func (s *State) paint(attr color.Attribute, text string) string {
	if !s.Opts.Color {
		return text
	}
	c := color.New(attr)
	c.EnableColor()
	return c.Sprint(text)
}
