package cd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/notify"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
)

// Notifier is the run's notifier: Options.Notifier, or one configured
// from the environment (SLACK_WEBHOOK_URL, PAGERDUTY_ROUTING_KEY, SMTP_*).
func (s *State) Notifier() *notify.Notifier {
	if s.notifier == nil {
		s.notifier = s.Opts.Notifier
		if s.notifier == nil {
			s.notifier = notify.FromEnv(s.Getenv)
		}
	}
	return s.notifier
}

// Notify sends an event, filled in with the run's environment, CI run and
// time, and prints what each channel did. It never fails the run: a
// channel that failed is in the output (and the summary), not an error.
// It runs even when the run was cancelled, bounded by the notifier's
// per-channel timeout.
func (s *State) Notify(ctx context.Context, e notify.Event) notify.Report {
	if e.Env == "" {
		e.Env = s.Config.Env.Name()
	}
	if e.URL == "" {
		e.URL = s.ciRunURL()
	}
	if e.Time.IsZero() {
		e.Time = s.Clock.Now()
	}
	rep := s.Notifier().Send(context.WithoutCancel(ctx), e)
	s.Printf("%s", renderNotify(rep))
	return rep
}

// renderNotify is the report, or one line when no channel is configured.
func renderNotify(rep notify.Report) string {
	var unset []string
	for _, r := range rep.Results {
		if r.Status != notify.Skipped {
			return indent(rep.String(), "   ")
		}
		if f := strings.Fields(r.Detail); len(f) > 1 && f[0] == "set" {
			unset = append(unset, strings.TrimSuffix(f[1], ","))
		}
	}
	return fmt.Sprintf("   notify %s: no channel configured (set %s)\n", rep.Event.Headline(), strings.Join(unset, ", "))
}

func indent(text, prefix string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// announce sends DeployStarted once the deploy holds its lock and record:
// from here on its end is announced too. A refusal before that (bad tag,
// no approval, a held lock) changed nothing and is only printed.
func (s *State) announce(ctx context.Context) {
	if s.announced {
		return
	}
	s.announced = true
	e := notify.Event{Kind: notify.DeployStarted, Release: s.Release.Tag, Summary: fmt.Sprintf("deploy:%s of %s started by %s.", s.Config.Env, s.Release.Tag, s.actor())}
	switch {
	case s.SourceVersion != nil && s.Route == RouteTrain:
		e.Summary = fmt.Sprintf("deploy:%s of %s started by %s: the release is trained in %s's own workspace, from the commit %s verified (%s v%s).",
			s.Config.Env.Name(), s.Release.Tag, s.actor(), s.Config.Env.Name(), s.Source.Env, s.SourceVersion.Name, s.SourceVersion.Version)
	case s.SourceVersion != nil:
		e.Summary = fmt.Sprintf("deploy:%s of %s started by %s: promoting %s v%s.", s.Config.Env, s.Release.Tag, s.actor(), s.SourceVersion.Name, s.SourceVersion.Version)
	}
	e.Details = s.eventDetails()
	s.Notify(ctx, e)
}

// announceEnd sends how an announced deploy ended: succeeded, canary
// aborted, or failed. A run ended by the test hook is a killed process,
// which sends nothing.
func (s *State) announceEnd(ctx context.Context, err error) {
	if !s.announced || errors.Is(err, ErrExitedAfterStage) {
		return
	}
	e := notify.Event{Release: s.Release.Tag, Details: s.eventDetails()}
	if s.Version != nil {
		e.ModelVersion = s.Version.Version
	}
	var ae *rollout.AbortError
	switch {
	case err == nil:
		e.Kind = notify.DeploySucceeded
		e.Summary = fmt.Sprintf("%s serves %s on %s.", s.Config.Env, s.Release.Tag, s.Config.Endpoint.Name)
		if rs := s.Rollout; rs != nil && rs.Outcome != nil && len(rs.Outcome.Intervals) > 0 {
			e.Summary = fmt.Sprintf("%s rolled out to 100%% of %s after %d canary intervals at %d%%; smoke tests passed.",
				s.Release.Tag, s.Config.Endpoint.Name, len(rs.Outcome.Intervals), rs.Outcome.Intervals[0].Percent)
		}
	case errors.As(err, &ae):
		e.Kind = notify.CanaryAborted
		why := ae.Why()
		verdict := string(why)
		if !why.Judged() {
			verdict += ", candidate not judged"
		}
		e.Summary = fmt.Sprintf("The canary of %s was aborted (%s): %s.", s.Release.Tag, verdict, ae.Reason)
		e.Details = append(e.Details, notify.Detail{Key: "Cause", Value: verdict})
		if ae.Restored {
			e.Summary += fmt.Sprintf(" %s v%s serves 100%% again.", ae.Stable.EntityName, ae.Stable.EntityVersion)
		} else {
			e.Summary += " Restoring the stable version failed: re-run the deploy or roll back."
		}
		e.Details = append(e.Details, notify.Detail{Key: "Canary", Value: fmt.Sprintf("%s at %d%%", ae.Candidate.Name, canaryPercent(ae))})
		if ae.Decision != nil {
			e.Details = append(e.Details, notify.Detail{Key: "Analysis", Value: ae.Decision.String()})
		}
	default:
		e.Kind = notify.DeployFailed
		e.Summary = fmt.Sprintf("deploy:%s of %s failed: %s", s.Config.Env, s.Release.Tag, clip(firstLine(err.Error()), 400))
	}
	s.Notify(ctx, e)
}

func canaryPercent(ae *rollout.AbortError) int {
	for _, iv := range ae.Intervals {
		return iv.Percent
	}
	return 0
}

// eventDetails are the facts every event of this run carries.
func (s *State) eventDetails() []notify.Detail {
	var d []notify.Detail
	if s.Config != nil && s.Config.Endpoint != nil {
		d = append(d, notify.Detail{Key: "Endpoint", Value: s.Config.Endpoint.Name})
	}
	if s.Record != nil {
		d = append(d, notify.Detail{Key: "Record", Value: s.Record.ID})
	}
	if s.Approval != "" {
		d = append(d, notify.Detail{Key: "Approval", Value: s.Approval})
	}
	if v, ok := s.validationDetail(); ok {
		d = append(d, v)
	}
	return d
}

func (s *State) actor() string {
	if s.Client != nil {
		return s.Client.User
	}
	return "unknown"
}

func clip(text string, n int) string {
	if len(text) <= n {
		return text
	}
	return text[:n] + "…"
}
