package cd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/databricks/databricks-sdk-go/apierr"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// PlanReport is what a deploy would change, worked out by reading only.
type PlanReport struct {
	Env     string `json:"env"`
	Target  string `json:"target"`
	Host    string `json:"host"`
	Release string `json:"release,omitempty"`
	SHA     string `json:"sha,omitempty"`
	// Model is what happens to the environment's model.
	Model ModelPlan `json:"model"`
	// EndpointBefore is nil when the endpoint does not exist.
	EndpointBefore *release.EndpointState `json:"endpoint_before"`
	EndpointAfter  *release.EndpointState `json:"endpoint_after"`
	// Bundle are the resource changes of the bundle deploy.
	Bundle []workspace.Change   `json:"bundle"`
	Files  workspace.FileSync   `json:"files"`
	Notes  []string             `json:"notes,omitempty"`
	Blocks []string             `json:"blocks,omitempty"` // why the deploy would refuse
	Source *release.ModelSource `json:"source,omitempty"`
	// Aliases are the Unity Catalog alias moves, in order (nil for the
	// workspace registry).
	Aliases []AliasMove `json:"aliases,omitempty"`
}

// ModelPlan is the model version a deploy would serve.
type ModelPlan struct {
	Action  string `json:"action"` // train (dev, or staging/prod in a workspace of their own), promote (a copy), reuse
	Model   string `json:"model"`
	Version string `json:"version,omitempty"` // known when reused
	Detail  string `json:"detail"`
}

// Plan runs `mage plan <env>`: it prints what deploy:<env> would change and
// writes artifacts/plan/<env>.json, changing nothing.
func Plan(ctx context.Context, o Options) (*PlanReport, error) {
	s, err := NewState(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := runStages(ctx, s, LoadConfig{}); err != nil {
		return nil, err
	}
	var blocks []string
	if err := (CheckRelease{}).Run(ctx, s); err != nil {
		blocks = append(blocks, "release: "+err.Error())
	}
	if err := runStages(ctx, s, Connect{}); err != nil {
		return nil, err
	}
	if err := (CheckCatalog{}).Run(ctx, s); err != nil {
		if _, skip := IsSkip(err); !skip {
			blocks = append(blocks, "catalog: "+err.Error())
		}
	}
	if s.Release.Tag != "" {
		if err := (LoadSource{}).Run(ctx, s); err != nil {
			if _, skip := IsSkip(err); !skip {
				blocks = append(blocks, "source: "+err.Error())
			}
		}
	}
	p, err := BuildPlan(ctx, s)
	if err != nil {
		return nil, err
	}
	p.Blocks = append(p.Blocks, blocks...)
	p.Render(s.Out)
	if err := writeJSON(filepath.Join(s.Artifacts, "plan", s.Config.Env.Name()+".json"), p); err != nil {
		return p, err
	}
	if o.PlanOut != "" {
		sp, err := s.savePlan(ctx, p, o.PlanOut)
		if err != nil {
			return p, err
		}
		s.Printf("Saved plan %s (%s): `deploy:%s -plan=%s` applies it, or refuses if anything it was made from has changed.\n", o.PlanOut, sp.Hash[:12], s.Config.Env, o.PlanOut)
	}
	return p, nil
}

// BuildPlan works out the plan from a connected State (the approval shows
// it too).
func BuildPlan(ctx context.Context, s *State) (*PlanReport, error) {
	cfg := s.Config
	p := &PlanReport{Env: cfg.Env.Name(), Target: cfg.Target.Name, Host: s.Client.Host, Release: s.Release.Tag, SHA: s.Release.SHA}
	if p.Release == "" {
		p.Release = "(no release tag on HEAD)"
	}
	res, err := workspace.Plan(ctx, s.Client, s.deployRequest())
	if err != nil {
		return nil, err
	}
	p.Bundle, p.Files = res.Changes, res.Files
	p.Bundle = append(p.Bundle, s.otherResourceChanges()...)
	if err := s.checkEngineCoversBundle(); err != nil {
		p.Blocks = append(p.Blocks, "engine: "+err.Error())
	}

	ep, err := s.Client.W.ServingEndpoints.GetByName(ctx, cfg.Endpoint.Name)
	switch {
	case err == nil:
		p.EndpointBefore = EndpointSnapshot(ep)
	case !errors.Is(err, apierr.ErrNotFound):
		return nil, fmt.Errorf("endpoint %s: %w", cfg.Endpoint.Name, err)
	}

	if err := s.Registry.Plan(ctx, s.deployment(), p); err != nil {
		return nil, err
	}

	version := p.Model.Version
	if version == "" {
		version = "new"
	}
	served := cfg.ServedName(version)
	p.EndpointAfter = &release.EndpointState{
		Name:           cfg.Endpoint.Name,
		ServedEntities: []release.ServedEntity{{Name: served, EntityName: cfg.Model, EntityVersion: version}},
		Traffic:        []release.Route{{ServedModelName: served, Percent: 100}},
	}
	if c := cfg.Endpoint.Config; c != nil && len(c.ServedEntities) > 0 {
		p.EndpointAfter.ServedEntities[0].WorkloadSize = c.ServedEntities[0].WorkloadSize
		p.EndpointAfter.ServedEntities[0].ScaleToZero = c.ServedEntities[0].ScaleToZeroEnabled
	}
	if s.Config.Env.RollsOutCanary() {
		p.Notes = append(p.Notes, canaryNote(s, p.EndpointBefore))
	}
	s.planValidation(p)
	if p.EndpointBefore == nil {
		p.Notes = append(p.Notes, "the endpoint does not exist yet: the deploy creates it")
	}
	return p, nil
}

// Render prints the plan for a person.
func (p *PlanReport) Render(w io.Writer) {
	fmt.Fprintf(w, "\nPlan for %s (target %s, %s)\n", p.Env, p.Target, p.Host)
	fmt.Fprintf(w, "  release:  %s %s\n", p.Release, release.ShortSHA(p.SHA))
	fmt.Fprintf(w, "  model:    %s %s: %s\n", p.Model.Action, p.Model.Model, p.Model.Detail)
	fmt.Fprintf(w, "  endpoint: %s\n", p.EndpointAfter.Name)
	fmt.Fprintf(w, "    before: %s\n", DescribeTraffic(p.EndpointBefore))
	fmt.Fprintf(w, "    after:  %s\n", DescribeTraffic(p.EndpointAfter))
	if len(p.Aliases) > 0 {
		moves := make([]string, len(p.Aliases))
		for i, m := range p.Aliases {
			moves[i] = m.String()
		}
		fmt.Fprintf(w, "  aliases:  %s\n", strings.Join(moves, ", "))
	}
	fmt.Fprintf(w, "  bundle:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range p.Bundle {
		detail := c.Detail
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", c.Action, c.Kind, c.Name, detail)
	}
	_ = tw.Flush() // a failed write shows as a short plan; Render has no error to return
	for _, n := range p.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	for _, b := range p.Blocks {
		fmt.Fprintf(w, "  the deploy would refuse: %s\n", strings.ReplaceAll(b, "\n", "\n    "))
	}
	fmt.Fprintln(w)
}

// otherResourceChanges lists the bundle's resources of the types the sdk
// engine does not deploy, with what the chosen engine does to them.
func (s *State) otherResourceChanges() []workspace.Change {
	if s.selectEngine() != nil {
		return nil // CheckInputs reports the engine setting
	}
	var out []workspace.Change
	for _, o := range s.Config.Bundle.Others {
		c := workspace.Change{Kind: o.Kind, Key: o.Key, Name: o.Name, Action: workspace.ActionByCLI, Detail: "the Databricks CLI deploys it; `databricks bundle plan` shows how"}
		if s.Engine.Name() == workspace.EngineSDK {
			c.Action, c.Detail = workspace.ActionRefused, "the sdk engine does not deploy "+o.Kind+"; use -engine=cli"
		}
		if c.Name == "" {
			c.Name = o.Key
		}
		out = append(out, c)
	}
	return out
}

func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}

// canaryNote says how deploy:prod changes the endpoint: a canary judged
// by the rollout policy, or, with nothing served yet, directly.
func canaryNote(s *State, before *release.EndpointState) string {
	if before == nil || len(before.ServedEntities) == 0 {
		return "prod serves nothing yet: the first release is served directly at 100% (no stable version to compare a canary against), then smoke tested"
	}
	plan := rollout.PlanFromPolicy(s.Config.Bundle.Rollout)
	if s.probes() {
		plan = plan.WithProbes()
	}
	return fmt.Sprintf("prod rolls out as a canary after a backup of the endpoint: %s; an abort puts %s back at 100%%; then smoke tests",
		describePlan(plan), DescribeTraffic(before))
}
