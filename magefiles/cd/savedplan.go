package cd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// A saved plan binds an approval to what was reviewed: `mage plan prod
// -out=FILE` writes the plan with the live state it was worked out from,
// and `deploy:prod -plan=FILE` works both out again before anything
// changes and refuses, with a diff, when any of it differs. A GitHub
// Environments approval alone approves a workflow run, not a change; the
// endpoint, the aliases, the journal or the bundle could change between
// the review and the deploy. Terraform's saved plans work this way, and
// users ask the bundle CLI for the same (databricks/cli#4094).

// SavedPlanFormat is the version of the saved plan's layout.
const SavedPlanFormat = 1

// SavedPlan is a plan with the live state it depended on.
type SavedPlan struct {
	Format int       `json:"format"`
	Made   time.Time `json:"made"`
	By     string    `json:"by"`
	// Plan and Observed are what deploy -plan works out again and compares.
	Plan     *PlanReport `json:"plan"`
	Observed Observed    `json:"observed"`
	// Hash is the SHA-256 of Plan and Observed: a file edited by hand is
	// refused.
	Hash string `json:"hash"`
}

// Observed is the live state a plan was worked out from.
type Observed struct {
	// Endpoint is the endpoint's config (nil when it does not exist) and
	// ConfigUpdate its update state (NOT_UPDATING, IN_PROGRESS, ...).
	Endpoint     *release.EndpointState `json:"endpoint"`
	ConfigUpdate string                 `json:"config_update,omitempty"`
	// Aliases of the environment's Unity Catalog model (nil for the
	// workspace registry or a model not created yet).
	Aliases map[string]string `json:"aliases,omitempty"`
	// Journal is the environment's latest release record: "<id> <outcome>".
	Journal string `json:"journal"`
	// Bundle is the SHA-256 of the target's resolved configuration.
	Bundle string `json:"bundle"`
}

// observeLive reads the live state a plan depends on. It changes nothing.
func (s *State) observeLive(ctx context.Context) (Observed, error) {
	var o Observed
	cfg := s.Config
	ep, err := s.Client.W.ServingEndpoints.GetByName(ctx, cfg.Endpoint.Name)
	switch {
	case err == nil:
		o.Endpoint = EndpointSnapshot(ep)
		if ep.State != nil {
			o.ConfigUpdate = string(ep.State.ConfigUpdate)
		}
	case !errors.Is(err, apierr.ErrNotFound):
		return o, fmt.Errorf("endpoint %s: %w", cfg.Endpoint.Name, err)
	}
	if o.Aliases, err = s.Registry.Aliases(ctx); err != nil {
		return o, err
	}
	latest, err := s.Journal.Latest(ctx)
	switch {
	case err == nil:
		o.Journal = latest.ID + " " + string(latest.Outcome)
	case !errors.Is(err, release.ErrNoRecord):
		return o, err
	}
	raw, err := s.Config.Bundle.Config()
	if err != nil {
		return o, fmt.Errorf("bundle configuration: %w", err)
	}
	sum := sha256.Sum256(raw)
	o.Bundle = hex.EncodeToString(sum[:])
	return o, nil
}

// content is what a saved plan holds and is compared by: the plan and the
// observed state, without the file's own metadata.
func (p *SavedPlan) content() ([]byte, error) {
	return json.Marshal(struct {
		Plan     *PlanReport `json:"plan"`
		Observed Observed    `json:"observed"`
	}{p.Plan, p.Observed})
}

func (p *SavedPlan) hash() (string, error) {
	raw, err := p.content()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

// savePlan writes the saved plan of p to path.
func (s *State) savePlan(ctx context.Context, p *PlanReport, path string) (*SavedPlan, error) {
	o, err := s.observeLive(ctx)
	if err != nil {
		return nil, err
	}
	sp := &SavedPlan{Format: SavedPlanFormat, Made: s.Clock.Now().UTC(), By: s.Client.User, Plan: p, Observed: o}
	if sp.Hash, err = sp.hash(); err != nil {
		return nil, err
	}
	if err := writeJSON(path, sp); err != nil {
		return nil, fmt.Errorf("save the plan to %s: %w", path, err)
	}
	return sp, nil
}

// LoadSavedPlan reads a saved plan and checks its hash.
func LoadSavedPlan(path string) (*SavedPlan, error) {
	raw, err := os.ReadFile(path) // #nosec G304 -- the -plan file the operator names
	if err != nil {
		return nil, fmt.Errorf("saved plan: %w", err)
	}
	var sp SavedPlan
	if err := json.Unmarshal(raw, &sp); err != nil {
		return nil, fmt.Errorf("saved plan %s: not a plan written by `mage plan -out`: %w", path, err)
	}
	if sp.Format != SavedPlanFormat || sp.Plan == nil {
		return nil, fmt.Errorf("saved plan %s: format %d, this deploy reads format %d: make the plan again with `mage plan -out=%s`", path, sp.Format, SavedPlanFormat, path)
	}
	want, err := sp.hash()
	if err != nil {
		return nil, err
	}
	if want != sp.Hash {
		return nil, fmt.Errorf("saved plan %s: its hash does not match its content (edited after it was made?): make the plan again", path)
	}
	return &sp, nil
}

// PlanDriftError is a saved plan whose live state or plan no longer holds.
type PlanDriftError struct {
	Env, Path string
	Diffs     []string
}

func (e *PlanDriftError) Error() string {
	return fmt.Sprintf("the saved plan %s no longer holds; nothing was changed:\n  %s\nmake the plan again (mage plan %s -out=%s) and have it approved",
		e.Path, strings.Join(e.Diffs, "\n  "), e.Env, e.Path)
}

// CheckSavedPlan, with -plan=FILE, works the plan and the live state out
// again before anything changes and refuses when either differs from the
// saved plan; the deploy then applies what was reviewed. Without -plan it
// is skipped.
type CheckSavedPlan struct{}

// Name implements Stage.
func (CheckSavedPlan) Name() string { return "plan" }

// Run implements Stage.
func (CheckSavedPlan) Run(ctx context.Context, s *State) error {
	path := s.Opts.PlanFile
	if path == "" {
		return Skip("no saved plan (-plan=FILE): the deploy applies what it finds")
	}
	sp, err := LoadSavedPlan(path)
	if err != nil {
		return err
	}
	if sp.Plan.Env != s.Config.Env.Name() {
		return fmt.Errorf("saved plan %s is for %s, not %s", path, sp.Plan.Env, s.Config.Env)
	}
	if len(sp.Plan.Blocks) > 0 {
		return fmt.Errorf("saved plan %s says the deploy would refuse: %s", path, strings.Join(sp.Plan.Blocks, "; "))
	}
	now, err := BuildPlan(ctx, s)
	if err != nil {
		return err
	}
	o, err := s.observeLive(ctx)
	if err != nil {
		return err
	}
	diffs := planDiffs(sp, &SavedPlan{Plan: now, Observed: o})
	if len(diffs) > 0 {
		return &PlanDriftError{Env: s.Config.Env.Name(), Path: path, Diffs: diffs}
	}
	s.Printf("   saved plan %s (%s, made %s by %s): the live state is as it was; applying it\n", filepath.Base(path), sp.Hash[:12], sp.Made.Format(time.RFC3339), sp.By)
	return nil
}

// driftNames say what a difference under each part of a saved plan means.
var driftNames = []struct{ prefix, what string }{
	{"observed.endpoint", "the endpoint changed since the plan"},
	{"observed.config_update", "the endpoint's update state changed since the plan"},
	{"observed.aliases", "the model's aliases moved since the plan"},
	{"observed.journal", "a newer release record since the plan"},
	{"observed.bundle", "the bundle's configuration changed since the plan"},
	{"plan.release", "another release"},
	{"plan.sha", "another release"},
	{"plan", "the plan itself changed"},
}

// planDiffs lists what differs, one line per JSON path: what it means,
// the path, the saved value and the value now.
func planDiffs(saved, now *SavedPlan) []string {
	flat := func(p *SavedPlan) map[string]string {
		raw, _ := p.content()
		var v any
		_ = json.Unmarshal(raw, &v)
		out := map[string]string{}
		flatten("", v, out)
		return out
	}
	a, b := flat(saved), flat(now)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var paths []string
	for k := range keys {
		if a[k] != b[k] {
			paths = append(paths, k)
		}
	}
	sort.Strings(paths)
	var out []string
	for _, p := range paths {
		what := "changed"
		for _, d := range driftNames {
			if p == d.prefix || strings.HasPrefix(p, d.prefix+".") || strings.HasPrefix(p, d.prefix+"[") {
				what = d.what
				break
			}
		}
		out = append(out, fmt.Sprintf("%s: %s: %s -> %s", what, p, orNone(a[p]), orNone(b[p])))
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// flatten writes every leaf of a decoded JSON value under its path.
func flatten(at string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if at != "" {
				p = at + "." + k
			}
			flatten(p, e, out)
		}
	case []any:
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", at, i), e, out)
		}
	case nil:
	default:
		raw, _ := json.Marshal(x)
		out[at] = string(raw)
	}
}
