package cd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
)

// StatusReport is what is live in an environment.
type StatusReport struct {
	Env    string `json:"env"`
	Target string `json:"target"`
	Host   string `json:"host"`
	// Endpoint is the live config; nil when the endpoint does not exist.
	Endpoint *release.EndpointState `json:"endpoint"`
	// Pending is a config update in progress or failed.
	Pending *release.EndpointState `json:"pending,omitempty"`
	// Latest is the newest release record; LastGood the newest verified
	// (or stable) one.
	Latest   *release.Record `json:"latest,omitempty"`
	LastGood *release.Record `json:"last_good,omitempty"`
	Lock     *release.Lock   `json:"lock,omitempty"`
	// Aliases of the Unity Catalog model: alias -> version (nil for the
	// workspace registry).
	Aliases map[string]string `json:"aliases,omitempty"`
	Model   string            `json:"model,omitempty"`
}

// Status runs `mage status <env>`: it prints what is live and writes
// artifacts/status/<env>.json.
func Status(ctx context.Context, o Options) (*StatusReport, error) {
	s, err := NewState(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := runStages(ctx, s, LoadConfig{}, Connect{}); err != nil {
		return nil, err
	}
	r, err := BuildStatus(ctx, s)
	if err != nil {
		return nil, err
	}
	r.Render(s.Out, s.Clock.Now())
	return r, writeJSON(filepath.Join(s.Artifacts, "status", s.Config.Env.Name()+".json"), r)
}

// BuildStatus reads the endpoint, the journal and the lock.
func BuildStatus(ctx context.Context, s *State) (*StatusReport, error) {
	cfg := s.Config
	r := &StatusReport{Env: s.Config.Env.Name(), Target: cfg.Target.Name, Host: s.Client.Host}
	ep, err := s.Client.W.ServingEndpoints.GetByName(ctx, cfg.Endpoint.Name)
	switch {
	case err == nil:
		r.Endpoint = EndpointSnapshot(ep)
		if ep.PendingConfig != nil {
			p := &release.EndpointState{Name: ep.Name, ConfigUpdate: r.Endpoint.ConfigUpdate}
			for _, e := range ep.PendingConfig.ServedEntities {
				p.ServedEntities = append(p.ServedEntities, release.ServedEntity{Name: e.Name, EntityName: e.EntityName, EntityVersion: e.EntityVersion, WorkloadSize: e.WorkloadSize})
			}
			if ep.PendingConfig.TrafficConfig != nil {
				for _, rt := range ep.PendingConfig.TrafficConfig.Routes {
					p.Traffic = append(p.Traffic, release.Route{ServedModelName: rollout.RouteName(rt), Percent: rt.TrafficPercentage})
				}
			}
			r.Pending = p
		}
	case !errors.Is(err, apierr.ErrNotFound):
		return nil, fmt.Errorf("endpoint %s: %w", cfg.Endpoint.Name, err)
	}
	latest, err := s.Journal.Latest(ctx)
	if err != nil && !errors.Is(err, release.ErrNoRecord) {
		return nil, err
	}
	r.Latest = latest
	if latest != nil {
		good, err := s.Journal.LatestWhere(ctx, func(rec *release.Record) bool { return rec.Good() })
		if err != nil && !errors.Is(err, release.ErrNoRecord) {
			return nil, err
		}
		r.LastGood = good
	}
	lk, err := s.Locker().Current(ctx)
	if err != nil {
		return nil, err
	}
	r.Lock = lk
	r.Model = cfg.Model
	if r.Aliases, err = s.Registry.Aliases(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Render prints the status for a person.
func (r *StatusReport) Render(w io.Writer, now time.Time) {
	fmt.Fprintf(w, "\nStatus of %s (target %s, %s)\n", r.Env, r.Target, r.Host)
	if r.Endpoint == nil {
		fmt.Fprintf(w, "  endpoint: does not exist\n")
	} else {
		fmt.Fprintf(w, "  endpoint: %s %s, %s\n", r.Endpoint.Name, r.Endpoint.Ready, r.Endpoint.ConfigUpdate)
		fmt.Fprintf(w, "    serving: %s\n", DescribeTraffic(r.Endpoint))
		if rel := r.Endpoint.Tags[TagRelease]; rel != "" {
			fmt.Fprintf(w, "    tagged:  release %s, sha %s\n", rel, release.ShortSHA(r.Endpoint.Tags[TagGitSHA]))
		}
		if r.Pending != nil {
			fmt.Fprintf(w, "    pending: %s (%s)\n", DescribeTraffic(r.Pending), r.Pending.ConfigUpdate)
		}
	}
	if r.Aliases != nil {
		fmt.Fprintf(w, "  model:    %s (Unity Catalog) %s\n", r.Model, DescribeAliases(r.Aliases))
	}
	describe := func(label string, rec *release.Record) {
		if rec == nil {
			fmt.Fprintf(w, "  %s none\n", label)
			return
		}
		model := ""
		if rec.Model != nil {
			model = fmt.Sprintf(", %s v%s", rec.Model.Name, rec.Model.Version)
		}
		what := rec.Release
		if rec.Kind == release.KindRollback {
			what = "rollback to " + rec.Release
		}
		outcome := string(rec.Outcome)
		if rec.Outcome == release.OutcomeInProgress && !r.running(rec, now) {
			outcome = "interrupted (its record says in_progress, but no live deploy holds the lock; the next deploy, rollback or unlock marks it superseded)"
		}
		fmt.Fprintf(w, "  %s %s %s%s, by %s at %s (%s ago), record %s\n", label, what, outcome, model,
			rec.Actor, rec.Started.Format(time.RFC3339), now.Sub(rec.Started).Round(time.Second), rec.ID)
		if rec.Verify != nil {
			var parts []string
			for _, su := range rec.Verify.Suites {
				mark := "pass"
				if !su.Passed {
					mark = "FAIL"
				}
				parts = append(parts, fmt.Sprintf("%s %s", su.Name, mark))
			}
			fmt.Fprintf(w, "    verify: %s\n", strings.Join(parts, ", "))
		}
		if v := describeValidation(rec); v != "" {
			fmt.Fprintf(w, "    validation: %s\n", v)
		}
		if rec.Error != "" {
			fmt.Fprintf(w, "    error: %s\n", firstLine(rec.Error))
		}
	}
	describe("latest:   ", r.Latest)
	if r.LastGood == nil || r.Latest == nil || r.LastGood.ID != r.Latest.ID {
		describe("last good:", r.LastGood)
	}
	if r.Lock != nil {
		state := "held"
		if !now.Before(r.Lock.Expiry) {
			state = "stale"
		}
		fmt.Fprintf(w, "  lock:     %s by %s (release %s) since %s\n", state, r.Lock.Holder, r.Lock.Release, r.Lock.Started.Format(time.RFC3339))
	} else {
		fmt.Fprintf(w, "  lock:     free\n")
	}
	fmt.Fprintln(w)
}

// running reports whether an in-progress record's run may still be alive:
// a lock for its release that has not expired is held.
func (r *StatusReport) running(rec *release.Record, now time.Time) bool {
	return r.Lock != nil && r.Lock.Release == rec.Release && now.Before(r.Lock.Expiry)
}

// DescribeAliases renders "@champion v3, @challenger v4, @release_v1_2_0 v3":
// champion and challenger first, the release aliases newest first.
func DescribeAliases(m map[string]string) string {
	if len(m) == 0 {
		return "no aliases"
	}
	names := make([]string, 0, len(m))
	for a := range m {
		names = append(names, a)
	}
	rank := func(a string) int {
		switch {
		case strings.HasPrefix(a, "release_"):
			return 2
		case a == "champion":
			return 0
		}
		return 1
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := rank(names[i]), rank(names[j])
		if ri != rj {
			return ri < rj
		}
		if ri == 2 {
			return versionNumber(m[names[i]]) > versionNumber(m[names[j]])
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, a := range names {
		parts[i] = fmt.Sprintf("@%s v%s", a, m[a])
	}
	return strings.Join(parts, ", ")
}
