package cd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/ml"

	"github.com/hitl-mlops/interrupt-agent/magefiles/notify"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
)

// RollbackTarget names what a rollback restores. Both empty: the previous
// stable release in the environment's journal.
type RollbackTarget struct {
	// Release is a release tag with a record in the journal (-to=v1.0.0).
	Release string
	// Version is a model version of the environment's model (-version=3).
	Version string
}

// RollbackPlan is what a rollback will do, worked out before anything
// changes.
type RollbackPlan struct {
	// Target is the served entity the endpoint will serve alone.
	Target rollout.Entity
	// Release is the release restored; empty when only a model version was
	// named and no record knows it.
	Release string
	// Record is the record of the release restored, when known.
	Record *release.Record
	// Replaced is the record of the release served now, when known.
	Replaced *release.Record
	// Resolves is the release whose production incident the rollback
	// closes: the latest deploy when it failed or was aborted, else the
	// release replaced.
	Resolves string
	// Why says how the target was chosen.
	Why     string
	Preview *rollout.Preview
	// Noop says there is nothing to change, and Why says why.
	Noop bool
}

// RollbackSummary is a rollback record's account of the change.
type RollbackSummary struct {
	From     string `json:"from,omitempty"` // the release replaced
	FromID   string `json:"from_record,omitempty"`
	To       string `json:"to,omitempty"`
	ToID     string `json:"to_record,omitempty"`
	Version  string `json:"version"`
	Why      string `json:"why"`
	Resolves string `json:"resolves,omitempty"`
}

// RollbackStages is `mage rollback <env>`: the endpoint back on the last
// stable (or a named) release.
func RollbackStages(t RollbackTarget) []Stage {
	return []Stage{
		LoadConfig{}, // the target: endpoint and model names, checked offline
		CheckInputs{Approve: true, Notify: true, Verify: true}, // APPROVE, notification settings, smoke cases
		Connect{},                      // workspace client; state comes from the workspace, not local files
		ChooseRollback{Target: t},      // journal, registry and endpoint read: the target, or a clear refusal
		ifChanging{Approve{}},          // shows the change; GitHub environment, terminal confirmation, or -yes
		ifChanging{AcquireLock{}},      // the environment's deploy lock
		ifChanging{BeginRollback{}},    // a rollback record in the journal
		ifChanging{Backup{}},           // the endpoint's config before the change
		ifChanging{RollbackEndpoint{}}, // the target alone at 100%, READY; the replaced record marked rolled_back
		ifChanging{Smoke{}},            // smoke cases against the endpoint
	}
}

// Rollback runs `mage rollback <env>`: it restores the target, records the
// rollback and notifies (rollback done, or rollback failed).
func Rollback(ctx context.Context, o Options, t RollbackTarget) error {
	if err := t.check(); err != nil {
		return err
	}
	s, err := NewState(ctx, o)
	if err != nil {
		return err
	}
	err = Flow{Name: "rollback:" + o.Env, Stages: RollbackStages(t), Success: release.OutcomeStable, Failure: release.OutcomeFailed}.Run(ctx, s)
	s.rollbackEnd(ctx, err)
	return err
}

func (t RollbackTarget) check() error {
	if t.Release != "" && t.Version != "" {
		return fmt.Errorf("rollback: name a release (-to=%s) or a model version (-version=%s), not both", t.Release, t.Version)
	}
	if t.Release != "" {
		if _, err := release.ParseTag(t.Release); err != nil {
			return fmt.Errorf("rollback: -to=%q: %w (want a release tag such as v1.0.0)", t.Release, err)
		}
	}
	if t.Version != "" && !isVersionNumber(t.Version) {
		return fmt.Errorf("rollback: -version=%q is not a model version number (want e.g. -version=3)", t.Version)
	}
	return nil
}

// RollbackNeededOutput is the step output `rollback -check` writes to
// $GITHUB_OUTPUT: true or false.
const RollbackNeededOutput = "rollback_needed"

// RollbackCheck runs `mage rollback <env> -check`: it works out, from what
// the endpoint serves and the journal, whether the rollback would change
// anything, prints the answer and, in GitHub Actions, writes
// rollback_needed=true|false to $GITHUB_OUTPUT. It changes nothing. A
// rollback that would be refused (no stable release to go back to) is an
// error.
func RollbackCheck(ctx context.Context, o Options, t RollbackTarget) (*RollbackPlan, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	s, err := NewState(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := runStages(ctx, s, LoadConfig{}, Connect{}, ChooseRollback{Target: t}); err != nil {
		return nil, fmt.Errorf("rollback:%s -check: %w", s.Env, err)
	}
	p := s.Rollback
	needed := !p.Noop
	if needed {
		s.Printf("rollback needed: %s -> %s\n", p.Preview.Text, p.describeTarget())
	} else {
		s.Printf("no rollback needed: %s\n", p.Why)
	}
	if out := s.Getenv("GITHUB_OUTPUT"); out != "" {
		if err := appendLine(out, fmt.Sprintf("%s=%t", RollbackNeededOutput, needed)); err != nil {
			return p, fmt.Errorf("rollback:%s -check: write $GITHUB_OUTPUT: %w", s.Env, err)
		}
	}
	return p, nil
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) // #nosec G304 G302 -- $GITHUB_OUTPUT, the runner's own step-output file
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func isVersionNumber(v string) bool {
	if v == "" || len(v) > 12 {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return v != "0"
}

// ifChanging runs its stage only when the rollback changes something.
type ifChanging struct{ Stage }

func (c ifChanging) Run(ctx context.Context, s *State) error {
	if s.Rollback != nil && s.Rollback.Noop {
		return Skip("nothing to roll back")
	}
	return c.Stage.Run(ctx, s)
}

// ChooseRollback works out the rollback from the workspace: the journal,
// the registry and the endpoint. A release or model version that does not
// exist, or no stable release at all, is refused here, before anything
// changes; an endpoint already serving the last stable release alone
// needs no default rollback (RollbackPlan.Noop).
type ChooseRollback struct{ Target RollbackTarget }

// Name implements Stage.
func (ChooseRollback) Name() string { return "target" }

// Run implements Stage.
func (c ChooseRollback) Run(ctx context.Context, s *State) error {
	name := s.Config.Endpoint.Name
	ep, err := s.Client.W.ServingEndpoints.GetByName(ctx, name)
	if endpointMissing(err) {
		return fmt.Errorf("endpoint %s does not exist in %s: there is nothing to roll back", name, s.Env)
	}
	if err != nil {
		return fmt.Errorf("endpoint %s: %w", name, err)
	}
	recs, err := s.Journal.List(ctx)
	if err != nil {
		return err
	}
	p, err := chooseRollback(recs, servedVersions(ep), c.Target, s.Config.Model, s.Env)
	if err != nil {
		return err
	}
	s.Rollback = p
	if !p.Noop {
		if err := s.checkVersion(ctx, p.Target.EntityVersion); err != nil {
			return err
		}
		p.Target = s.ServedEntity(s.Config.Model, p.Target.EntityVersion)
		// The name the endpoint serves it under wins (no redeploy); else the
		// bundle's naming (var.model_name), as the serve stage names it.
		p.Target.Name = s.Config.ServedName(p.Target.EntityVersion)
		if p.Preview, err = rollout.PreviewRollback(ctx, s.Client.W.ServingEndpoints, name, p.Target); err != nil {
			return err
		}
		if p.Preview.Noop {
			p.Noop, p.Why = true, p.Preview.Text
		}
	}
	if p.Record != nil {
		s.Release = release.Identity{Tag: p.Record.Release, SHA: p.Record.SHA}
	}
	s.Version = &ml.ModelVersion{Name: s.Config.Model, Version: p.Target.EntityVersion}
	s.renderRollback()
	s.confirm = func(context.Context) (string, error) {
		return fmt.Sprintf("Roll %s back to %s? Type %q to confirm: ", s.Env, p.describeTarget(), s.Env), nil
	}
	return nil
}

// checkVersion refuses a model version the registry does not have READY.
func (s *State) checkVersion(ctx context.Context, version string) error {
	mv, err := s.getVersion(ctx, s.Client, s.Config.Model, version)
	if notFound(err) {
		return fmt.Errorf("model %s has no version %s (deleted, or never registered in %s): nothing was changed", s.Config.Model, version, s.Env)
	}
	if err != nil {
		return fmt.Errorf("model %s v%s: %w", s.Config.Model, version, err)
	}
	if mv.Status != ml.ModelVersionStatusReady {
		status := string(mv.Status)
		return fmt.Errorf("model %s v%s is %s, not READY: nothing was changed", s.Config.Model, version, status)
	}
	return nil
}

func (p *RollbackPlan) describeTarget() string {
	if p.Release != "" {
		return fmt.Sprintf("%s (model v%s)", p.Release, p.Target.EntityVersion)
	}
	return "model v" + p.Target.EntityVersion
}

// renderRollback prints what the rollback will change.
func (s *State) renderRollback() {
	p := s.Rollback
	s.Printf("   endpoint %s\n", s.Config.Endpoint.Name)
	if p.Replaced != nil {
		s.Printf("   now:    %s (record %s, %s)\n", p.Replaced.Release, p.Replaced.ID, p.Replaced.Outcome)
	}
	if p.Noop {
		s.Printf("   nothing to roll back: %s\n", p.Why)
		return
	}
	s.Printf("   change: %s\n", p.Preview.Text)
	s.Printf("   target: %s: %s\n", p.describeTarget(), p.Why)
}

// chooseRollback picks the target from the journal (oldest first) and the
// versions the endpoint routes traffic to, reading nothing else.
func chooseRollback(recs []*release.Record, served map[string]int, t RollbackTarget, model, env string) (*RollbackPlan, error) {
	relevant := func(r *release.Record) bool {
		return (r.Kind == release.KindDeploy || r.Kind == release.KindRollback) && r.Model != nil && r.Model.Version != ""
	}
	newest := func(match func(*release.Record) bool) *release.Record {
		return release.Newest(recs, func(r *release.Record) bool { return relevant(r) && match(r) })
	}
	p := &RollbackPlan{}
	alone := ""
	if len(served) == 1 {
		for v, pct := range served {
			if pct == 100 {
				alone = v
			}
		}
	}
	// The release serving now: the newest record of the served version
	// that still stands for it.
	if alone != "" {
		p.Replaced = newest(func(r *release.Record) bool {
			return r.Model.Version == alone && r.Outcome != release.OutcomeAborted && r.Outcome != release.OutcomeRolledBack
		})
	}
	latest := release.Newest(recs, func(r *release.Record) bool { return r.Kind == release.KindDeploy })
	if latest != nil && (latest.Outcome == release.OutcomeAborted || latest.Outcome == release.OutcomeFailed) {
		p.Resolves = latest.Release
	} else if p.Replaced != nil {
		p.Resolves = p.Replaced.Release
	}

	switch {
	case t.Version != "":
		p.Target = rollout.Entity{EntityName: model, EntityVersion: t.Version}
		p.Why = "model version named with -version"
		if r := newest(func(r *release.Record) bool { return r.Model.Version == t.Version }); r != nil {
			p.Record, p.Release = r, r.Release
			p.Why += fmt.Sprintf("; last deployed as %s (record %s, %s)", r.Release, r.ID, r.Outcome)
		}
	case t.Release != "":
		r := newest(func(r *release.Record) bool { return r.Release == t.Release })
		if r == nil {
			return nil, fmt.Errorf("%s has no record of release %s%s: nothing was changed", env, t.Release, knownReleases(recs, relevant))
		}
		switch r.Outcome {
		case release.OutcomeStable, release.OutcomeVerified, release.OutcomeRolledBack:
		default:
			return nil, fmt.Errorf("release %s never became stable in %s (its latest record %s is %s): roll back to a release that was stable%s, or name a model version with -version: nothing was changed",
				t.Release, env, r.ID, r.Outcome, knownReleases(recs, func(r *release.Record) bool {
					return relevant(r) && (r.Good() || r.Outcome == release.OutcomeRolledBack)
				}))
		}
		p.Record, p.Release = r, r.Release
		p.Target = rollout.Entity{EntityName: model, EntityVersion: r.Model.Version}
		p.Why = fmt.Sprintf("release named with -to (record %s, %s)", r.ID, r.Outcome)
	default:
		good := newest(func(r *release.Record) bool { return r.Good() })
		if good == nil {
			return nil, fmt.Errorf("%s has no stable release in its journal: there is nothing to roll back to (name a model version with -version): nothing was changed", env)
		}
		if alone != good.Model.Version {
			// The endpoint does not serve the last stable release (a deploy
			// that failed after its rollout, a canary left half way): go back
			// to it.
			p.Record, p.Release = good, good.Release
			p.Target = rollout.Entity{EntityName: model, EntityVersion: good.Model.Version}
			p.Why = fmt.Sprintf("the last stable release (record %s); the endpoint serves %s", good.ID, describeServed(served))
			break
		}
		// The endpoint serves the last stable release alone: whatever came
		// after it (a deploy that failed before the endpoint, an aborted
		// canary, one still in progress, or nothing) did not replace it, so
		// going back one more release would make production worse. Going
		// further back is an explicit -to or -version.
		p.Noop = true
		p.Release, p.Record = good.Release, good
		p.Target = rollout.Entity{EntityName: model, EntityVersion: good.Model.Version}
		p.Why = fmt.Sprintf("%s serves the last stable release %s (model v%s) alone", env, good.Release, good.Model.Version)
		if latest != nil && latest != good && !latest.Good() && latest.Started.After(good.Started) {
			how := fmt.Sprintf("the deploy of %s after it is %s (record %s)", latest.Release, latest.Outcome, latest.ID)
			if latest.Outcome == release.OutcomeAborted {
				how = fmt.Sprintf("the canary of %s after it was aborted (record %s)", latest.Release, latest.ID)
			}
			p.Why += "; " + how + " and did not replace it"
		}
		if prev := newest(func(r *release.Record) bool {
			return r.Good() && r.Model.Version != good.Model.Version && !r.Started.After(good.Started)
		}); prev != nil {
			p.Why += fmt.Sprintf("; to go back to the stable release before it, name it: mage rollback %s -to=%s", env, prev.Release)
		}
	}
	return p, nil
}

func describeServed(served map[string]int) string {
	if len(served) == 0 {
		return "nothing"
	}
	var parts []string
	for v, pct := range served {
		parts = append(parts, fmt.Sprintf("v%s %d%%", v, pct))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// knownReleases lists the releases of records that match, for an error.
func knownReleases(recs []*release.Record, match func(*release.Record) bool) string {
	seen := map[string]bool{}
	var out []string
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if match(r) && r.Release != "" && !seen[r.Release] {
			seen[r.Release] = true
			out = append(out, fmt.Sprintf("%s (v%s, %s)", r.Release, r.Model.Version, r.Outcome))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "; known: " + strings.Join(out, ", ")
}

// BeginRollback opens the rollback's record in the journal.
type BeginRollback struct{}

// Name implements Stage.
func (BeginRollback) Name() string { return "record" }

// Run implements Stage.
func (BeginRollback) Run(ctx context.Context, s *State) error {
	p := s.Rollback
	machine, _ := s.process()
	if ci := s.ciRunURL(); ci != "" {
		machine = ci
	}
	rec := &release.Record{
		Env: s.Env, Kind: release.KindRollback, Release: p.Release,
		Target: s.Config.Target.Name, Host: s.Client.Host, Actor: s.Client.User, Machine: machine,
		Approval: s.Approval, Started: s.Clock.Now().UTC(),
		Model: &release.ModelVersionRef{Name: s.Config.Model, Version: p.Target.EntityVersion},
	}
	if p.Record != nil {
		rec.SHA = p.Record.SHA
		if p.Record.Model != nil {
			rec.Model.RunID, rec.Model.Source = p.Record.Model.RunID, p.Record.Model.Source
		}
	}
	if p.Preview != nil {
		rec.Previous = EndpointSnapshot(p.Preview.Before)
	}
	sum := RollbackSummary{To: p.Release, Version: p.Target.EntityVersion, Why: p.Why, Resolves: p.Resolves}
	if p.Record != nil {
		sum.ToID = p.Record.ID
	}
	if p.Replaced != nil {
		sum.From, sum.FromID = p.Replaced.Release, p.Replaced.ID
		rec.Notes = append(rec.Notes, fmt.Sprintf("rolled back from %s (record %s)", p.Replaced.Release, p.Replaced.ID))
	}
	if err := rec.Attach(AttachRollback, sum); err != nil {
		return err
	}
	for _, st := range s.Stages {
		rec.SetStage(st)
	}
	if err := s.supersede(ctx, "a rollback to "+p.describeTarget()+" took its place"); err != nil {
		return err
	}
	if err := s.Journal.Begin(ctx, rec); err != nil {
		return err
	}
	s.Record = rec
	s.Printf("   record %s\n", rec.ID)
	return nil
}

// RollbackEndpoint serves the target alone with all the traffic and waits
// until the endpoint is READY; the record of the release it replaced is
// marked rolled_back.
type RollbackEndpoint struct{}

// Name implements Stage.
func (RollbackEndpoint) Name() string { return "rollback" }

// Run implements Stage.
func (RollbackEndpoint) Run(ctx context.Context, s *State) error {
	p := s.Rollback
	ch, err := rollout.RollbackTo(ctx, s.Client.W.ServingEndpoints, s.Config.Endpoint.Name, p.Target, s.rolloutOptions())
	if err != nil {
		return err
	}
	s.Endpoint = ch.After
	if s.Release.Tag != "" {
		if err := s.TagEndpoint(ctx, ch.After); err != nil {
			return err
		}
	}
	// @champion follows the endpoint back (Unity Catalog).
	if err := s.syncAliases(ctx, ch.After); err != nil {
		return err
	}
	s.Record.Endpoint = EndpointSnapshot(ch.After)
	if r := p.Replaced; r != nil && r.Model.Version != p.Target.EntityVersion {
		_, err := s.Journal.Update(ctx, r.ID, func(old *release.Record) error {
			old.Outcome = release.OutcomeRolledBack
			old.Notes = append(old.Notes, fmt.Sprintf("rolled back to %s at %s (record %s)", p.describeTarget(), s.Clock.Now().UTC().Format(time.RFC3339), s.Record.ID))
			return nil
		})
		if err != nil {
			s.Printf("   warning: could not mark %s's record %s rolled back: %v\n", r.Release, r.ID, err)
		} else {
			s.Printf("   record %s (%s) marked rolled_back\n", r.ID, r.Release)
		}
	}
	return nil
}

// rollbackEnd notifies how the rollback ended. A refusal before the
// record (bad target, no approval, a held lock) changed nothing and is only
// printed; a rollback with nothing to change says so and sends nothing.
func (s *State) rollbackEnd(ctx context.Context, err error) {
	p := s.Rollback
	if p == nil || p.Noop || s.Record == nil || s.Record.Kind != release.KindRollback || errors.Is(err, ErrExitedAfterStage) {
		return
	}
	e := notify.Event{Release: p.Release, ModelVersion: p.Target.EntityVersion, Resolves: p.Resolves, Details: s.eventDetails()}
	from := "the previous version"
	if p.Replaced != nil {
		from = p.Replaced.Release
		e.Details = append(e.Details, notify.Detail{Key: "Replaced", Value: fmt.Sprintf("%s (model v%s)", p.Replaced.Release, p.Replaced.Model.Version)})
	}
	if err == nil {
		e.Kind = notify.RollbackDone
		e.Summary = fmt.Sprintf("%s rolled back from %s to %s; smoke tests passed.", s.Env, from, p.describeTarget())
	} else {
		e.Kind = notify.RollbackFailed
		e.Summary = fmt.Sprintf("Rollback of %s from %s to %s failed: %s", s.Env, from, p.describeTarget(), clip(firstLine(err.Error()), 400))
	}
	s.Notify(ctx, e)
}
