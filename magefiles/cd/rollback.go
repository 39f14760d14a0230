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
		Connect{},                               // workspace client; state comes from the workspace, not local files
		ChooseRollback{Target: t},               // journal, registry and endpoint read: the target, or a clear refusal
		ifChanging{Approve{}},                   // shows the change; GitHub environment, terminal confirmation, or -yes
		ifChanging{AcquireLock{}},               // the environment's deploy lock
		ifChanging{BeginRecord{Rollback: true}}, // a rollback record in the journal
		ifChanging{Backup{}},                    // the endpoint's config before the change
		ifChanging{RollbackEndpoint{}},          // the target alone at 100%, READY; the replaced record marked rolled_back
		ifChanging{Smoke{}},                     // smoke cases against the endpoint
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
		return nil, fmt.Errorf("rollback:%s -check: %w", o.Env, err)
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
			return p, fmt.Errorf("rollback:%s -check: write $GITHUB_OUTPUT: %w", o.Env, err)
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
	name, env := s.Config.Endpoint.Name, s.Config.Env
	ep, err := s.Client.W.ServingEndpoints.GetByName(ctx, name)
	if endpointMissing(err) {
		return fmt.Errorf("endpoint %s does not exist in %s: there is nothing to roll back", name, env)
	}
	if err != nil {
		return fmt.Errorf("endpoint %s: %w", name, err)
	}
	recs, err := s.Journal.List(ctx)
	if err != nil {
		return err
	}
	p, err := chooseRollback(recs, servedVersions(ep), c.Target, s.Config.Model, env.Name())
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
		return fmt.Sprintf("Roll %s back to %s? Type %q to confirm: ", env, p.describeTarget(), env.Name()), nil
	}
	return nil
}

// checkVersion refuses a model version the registry does not have READY.
func (s *State) checkVersion(ctx context.Context, version string) error {
	mv, err := s.Registry.Version(ctx, s.Config.Model, version)
	if notFound(err) {
		return fmt.Errorf("model %s has no version %s (deleted, or never registered in %s): nothing was changed", s.Config.Model, version, s.Config.Env)
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
// versions the endpoint routes traffic to, reading nothing else: a
// version named with -version, a release named with -to, or by default
// the last stable release.
func chooseRollback(recs []*release.Record, served map[string]int, t RollbackTarget, model, env string) (*RollbackPlan, error) {
	c := rollbackChooser{recs: recs, served: served, alone: servedAlone(served), model: model, env: env}
	c.latest = release.Newest(recs, func(r *release.Record) bool { return r.Kind == release.KindDeploy })
	p := &RollbackPlan{Replaced: c.replaced()}
	p.Resolves = c.resolves(p.Replaced)
	var err error
	switch {
	case t.Version != "":
		c.toVersion(p, t.Version)
	case t.Release != "":
		err = c.toRelease(p, t.Release)
	default:
		err = c.toLastStable(p)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// rollbackChooser is what chooseRollback decides from.
type rollbackChooser struct {
	recs   []*release.Record // the journal, oldest first
	served map[string]int    // version -> traffic percent
	alone  string            // the version served with all the traffic, if one is
	latest *release.Record   // the newest deploy, whatever became of it
	model  string
	env    string
}

// servedAlone is the version an endpoint serves with all the traffic, ""
// when it serves none or several.
func servedAlone(served map[string]int) string {
	if len(served) != 1 {
		return ""
	}
	for v, pct := range served {
		if pct == 100 {
			return v
		}
	}
	return ""
}

// newest is the newest deploy or rollback record that names a model
// version and that match accepts: the one query of the journal a rollback
// is chosen by.
func (c rollbackChooser) newest(match func(*release.Record) bool) *release.Record {
	return release.Newest(c.recs, func(r *release.Record) bool { return namesVersion(r) && match(r) })
}

// namesVersion reports whether r is a deploy or rollback of a model
// version.
func namesVersion(r *release.Record) bool {
	return (r.Kind == release.KindDeploy || r.Kind == release.KindRollback) && r.Model != nil && r.Model.Version != ""
}

// replaced is the release serving now: the newest record of the version
// served alone that still stands for it.
func (c rollbackChooser) replaced() *release.Record {
	if c.alone == "" {
		return nil
	}
	return c.newest(func(r *release.Record) bool {
		return r.Model.Version == c.alone && r.Outcome != release.OutcomeAborted && r.Outcome != release.OutcomeRolledBack
	})
}

// resolves is the release whose incident the rollback closes: the latest
// deploy when it failed or was aborted, else the release replaced.
func (c rollbackChooser) resolves(replaced *release.Record) string {
	switch {
	case c.latest != nil && (c.latest.Outcome == release.OutcomeAborted || c.latest.Outcome == release.OutcomeFailed):
		return c.latest.Release
	case replaced != nil:
		return replaced.Release
	}
	return ""
}

// target makes r's version the target, restoring r's release.
func (c rollbackChooser) target(p *RollbackPlan, r *release.Record) {
	p.Record, p.Release = r, r.Release
	p.Target = rollout.Entity{EntityName: c.model, EntityVersion: r.Model.Version}
}

// toVersion targets a model version named with -version, and the release
// last deployed with it, if any.
func (c rollbackChooser) toVersion(p *RollbackPlan, version string) {
	p.Target = rollout.Entity{EntityName: c.model, EntityVersion: version}
	p.Why = "model version named with -version"
	if r := c.newest(func(r *release.Record) bool { return r.Model.Version == version }); r != nil {
		p.Record, p.Release = r, r.Release
		p.Why += fmt.Sprintf("; last deployed as %s (record %s, %s)", r.Release, r.ID, r.Outcome)
	}
}

// toRelease targets a release named with -to, which must have been
// stable.
func (c rollbackChooser) toRelease(p *RollbackPlan, tag string) error {
	r := c.newest(func(r *release.Record) bool { return r.Release == tag })
	if r == nil {
		return fmt.Errorf("%s has no record of release %s%s: nothing was changed", c.env, tag, c.known(func(*release.Record) bool { return true }))
	}
	switch r.Outcome {
	case release.OutcomeStable, release.OutcomeVerified, release.OutcomeRolledBack:
	default:
		return fmt.Errorf("release %s never became stable in %s (its latest record %s is %s): roll back to a release that was stable%s, or name a model version with -version: nothing was changed",
			tag, c.env, r.ID, r.Outcome, c.known(func(r *release.Record) bool { return r.Good() || r.Outcome == release.OutcomeRolledBack }))
	}
	c.target(p, r)
	p.Why = fmt.Sprintf("release named with -to (record %s, %s)", r.ID, r.Outcome)
	return nil
}

// toLastStable targets the last stable release, unless the endpoint
// already serves it alone.
func (c rollbackChooser) toLastStable(p *RollbackPlan) error {
	good := c.newest(func(r *release.Record) bool { return r.Good() })
	if good == nil {
		return fmt.Errorf("%s has no stable release in its journal: there is nothing to roll back to (name a model version with -version): nothing was changed", c.env)
	}
	c.target(p, good)
	if c.alone != good.Model.Version {
		// The endpoint does not serve the last stable release (a deploy
		// that failed after its rollout, a canary left half way): go back
		// to it.
		p.Why = fmt.Sprintf("the last stable release (record %s); the endpoint serves %s", good.ID, describeServed(c.served))
		return nil
	}
	// The endpoint serves the last stable release alone: whatever came
	// after it (a deploy that failed before the endpoint, an aborted
	// canary, one still in progress, or nothing) did not replace it, so
	// going back one more release would make production worse. Going
	// further back is an explicit -to or -version.
	p.Noop = true
	p.Why = fmt.Sprintf("%s serves the last stable release %s (model v%s) alone", c.env, good.Release, good.Model.Version) + c.notReplacedBy(good) + c.before(good)
	return nil
}

// notReplacedBy says why the deploy after good, if any, left it serving.
func (c rollbackChooser) notReplacedBy(good *release.Record) string {
	latest := c.latest
	if latest == nil || latest == good || latest.Good() || !latest.Started.After(good.Started) {
		return ""
	}
	how := fmt.Sprintf("the deploy of %s after it is %s (record %s)", latest.Release, latest.Outcome, latest.ID)
	if latest.Outcome == release.OutcomeAborted {
		how = fmt.Sprintf("the canary of %s after it was aborted (record %s)", latest.Release, latest.ID)
	}
	return "; " + how + " and did not replace it"
}

// before names the stable release before good, for an explicit -to.
func (c rollbackChooser) before(good *release.Record) string {
	prev := c.newest(func(r *release.Record) bool {
		return r.Good() && r.Model.Version != good.Model.Version && !r.Started.After(good.Started)
	})
	if prev == nil {
		return ""
	}
	return fmt.Sprintf("; to go back to the stable release before it, name it: mage rollback %s -to=%s", c.env, prev.Release)
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

// known lists, for an error, the releases of the records naming a
// version that match accepts, newest first.
func (c rollbackChooser) known(match func(*release.Record) bool) string {
	seen := map[string]bool{}
	var out []string
	for i := len(c.recs) - 1; i >= 0; i-- {
		r := c.recs[i]
		if namesVersion(r) && match(r) && r.Release != "" && !seen[r.Release] {
			seen[r.Release] = true
			out = append(out, fmt.Sprintf("%s (v%s, %s)", r.Release, r.Model.Version, r.Outcome))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "; known: " + strings.Join(out, ", ")
}

// rollbackRecord is the record of the rollback s.Rollback plans, with
// its RollbackSummary attached.
func (s *State) rollbackRecord() (*release.Record, error) {
	p := s.Rollback
	rec := &release.Record{
		Env: s.Config.Env.Name(), Kind: release.KindRollback, Release: p.Release,
		Target: s.Config.Target.Name, Host: s.Client.Host, Actor: s.Client.User, Machine: s.recordMachine(),
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
		return nil, err
	}
	return rec, nil
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
	// The aliases follow the endpoint back (@champion in Unity Catalog).
	if err := s.Registry.MoveAliases(ctx, ch.After); err != nil {
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
		e.Summary = fmt.Sprintf("%s rolled back from %s to %s; smoke tests passed.", s.Config.Env, from, p.describeTarget())
	} else {
		e.Kind = notify.RollbackFailed
		e.Summary = fmt.Sprintf("Rollback of %s from %s to %s failed: %s", s.Config.Env, from, p.describeTarget(), clip(firstLine(err.Error()), 400))
	}
	s.Notify(ctx, e)
}
