package cd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace/forcesend"
)

// Serve makes the environment's endpoint serve this release's model version
// at 100%: it creates the endpoint when missing, otherwise replaces its
// served entity, and waits until the update is done (NOT_UPDATING) and the
// endpoint READY. UPDATE_FAILED is an error with the build logs' tail; the
// previous config keeps serving. With Canary (deploy:prod) it finishes the
// canary rollout instead (finishRollout). Every deploy flow ends serving
// with this one stage, so records read the same across environments.
type Serve struct {
	// Canary: the candidate runs as a canary next to the stable version
	// (the canary and analysis stages); serve promotes it to all traffic.
	Canary bool
}

// Name implements Stage.
func (Serve) Name() string { return "serve" }

// Run implements Stage.
func (sv Serve) Run(ctx context.Context, s *State) error {
	if sv.Canary {
		return s.finishRollout(ctx)
	}
	return s.serveAlone(ctx)
}

// serveAlone serves the release's version alone, at 100%.
func (s *State) serveAlone(ctx context.Context) error {
	if s.Version == nil {
		return fmt.Errorf("no model version to serve")
	}
	name := s.Config.Endpoint.Name
	model, version := s.Version.Name, s.Version.Version
	served := s.Config.ServedName(version)
	api := s.Client.W.ServingEndpoints

	ep, err := api.GetByName(ctx, name)
	if err != nil && !errors.Is(err, apierr.ErrNotFound) {
		return fmt.Errorf("endpoint %s: %w", name, err)
	}
	var wait *serving.WaitGetServingEndpointNotUpdating[serving.ServingEndpointDetailed]
	if err != nil {
		req := serving.CreateServingEndpoint{
			Name: name, Description: s.Config.Endpoint.Description, RouteOptimized: s.Config.Endpoint.RouteOptimized,
			Tags:   s.EndpointTags(),
			Config: s.endpointConfig(served), AiGateway: s.Config.Endpoint.AiGateway,
		}
		s.Printf("   creating %s serving %s v%s\n", name, model, version)
		wait, err = api.Create(ctx, req)
		if err != nil {
			return fmt.Errorf("create endpoint %s: %w", name, err)
		}
	} else {
		if ep.State != nil && ep.State.ConfigUpdate == serving.EndpointStateConfigUpdateInProgress {
			// Another update is running: the service refuses a second one.
			if ep, err = s.WaitEndpoint(ctx, name, "an update already in progress", nil); err != nil {
				return err
			}
		}
		before := EndpointSnapshot(ep)
		s.Record.Previous = before
		if servesOnly(ep, model, version) && ep.State != nil && ep.State.Ready == serving.EndpointStateReadyReady {
			s.Endpoint = ep
			s.Record.Endpoint = before
			if err := s.markRelease(ctx, ep); err != nil {
				return err
			}
			return Skip("%s already serves %s v%s at 100%%", name, model, version)
		}
		s.Printf("   %s: %s -> %s v%s at 100%%\n", name, DescribeTraffic(before), model, version)
		cfg := s.endpointConfig(served)
		cfg.Name = name
		wait, err = api.UpdateConfig(ctx, *cfg)
		if err != nil {
			return fmt.Errorf("update endpoint %s: %w", name, err)
		}
	}
	ep, err = s.WaitEndpoint(ctx, name, "its config update", wait)
	if err != nil {
		return err
	}
	if ep.State == nil || ep.State.Ready != serving.EndpointStateReadyReady {
		if ep, err = s.WaitEndpointReady(ctx, name); err != nil {
			return err
		}
	}
	if err := s.markRelease(ctx, ep); err != nil {
		return err
	}
	s.Endpoint = ep
	s.Record.Endpoint = EndpointSnapshot(ep)
	s.Printf("   %s READY: %s\n", name, DescribeTraffic(s.Record.Endpoint))
	return nil
}

// ServedEntity is the served entity for a version of the environment's
// model, with the compute settings of the bundle's endpoint resource.
func (s *State) ServedEntity(model, version string) serving.ServedEntityInput {
	in := serving.ServedEntityInput{Name: s.Config.ServedName(version), EntityName: model, EntityVersion: version, WorkloadSize: "Small"}
	if c := s.Config.Endpoint.Config; c != nil && len(c.ServedEntities) > 0 {
		tmpl := c.ServedEntities[0]
		in.WorkloadSize, in.WorkloadType = tmpl.WorkloadSize, tmpl.WorkloadType
		in.ScaleToZeroEnabled, in.EnvironmentVars = tmpl.ScaleToZeroEnabled, tmpl.EnvironmentVars
		in.MinProvisionedConcurrency, in.MaxProvisionedConcurrency = tmpl.MinProvisionedConcurrency, tmpl.MaxProvisionedConcurrency
		if in.WorkloadSize == "" && in.MinProvisionedConcurrency == 0 {
			in.WorkloadSize = "Small"
		}
	}
	return forcesend.ServedEntity(in)
}

// endpointConfig serves this release's version alone, at 100%.
func (s *State) endpointConfig(served string) *serving.EndpointCoreConfigInput {
	in := s.ServedEntity(s.Version.Name, s.Version.Version)
	in.Name = served
	return &serving.EndpointCoreConfigInput{
		ServedEntities: []serving.ServedEntityInput{in},
		TrafficConfig:  &serving.TrafficConfig{Routes: []serving.Route{{ServedEntityName: served, TrafficPercentage: 100}}},
	}
}

func (s *State) EndpointTags() []serving.EndpointTag {
	m := map[string]string{}
	for _, t := range s.Config.Endpoint.Tags {
		m[t.Key] = t.Value
	}
	for k, v := range s.Tags() {
		m[k] = v
	}
	keys := slices.Sorted(maps.Keys(m))
	out := make([]serving.EndpointTag, 0, len(keys))
	for _, k := range keys {
		out = append(out, serving.EndpointTag{Key: k, Value: m[k]})
	}
	return out
}

// TagEndpoint puts the release tags on an existing endpoint. Tags are
// metadata: a workspace that refuses the call gets a warning, not a failed
// deploy.
func (s *State) TagEndpoint(ctx context.Context, ep *serving.ServingEndpointDetailed) error {
	have := map[string]string{}
	for _, t := range ep.Tags {
		have[t.Key] = t.Value
	}
	var add []serving.EndpointTag
	for _, t := range s.EndpointTags() {
		if have[t.Key] != t.Value {
			add = append(add, t)
		}
	}
	if len(add) == 0 {
		return nil
	}
	tags, err := s.Client.W.ServingEndpoints.Patch(ctx, serving.PatchServingEndpointTags{Name: ep.Name, AddTags: add})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.Printf("   warning: could not tag endpoint %s with the release: %v\n", ep.Name, err)
		return nil
	}
	ep.Tags = tags.Tags
	return nil
}

// WaitEndpoint waits for a config update with the SDK's waiter (given, or
// a fresh one on the endpoint), reporting progress.
func (s *State) WaitEndpoint(ctx context.Context, name, what string, w *serving.WaitGetServingEndpointNotUpdating[serving.ServingEndpointDetailed]) (*serving.ServingEndpointDetailed, error) {
	p := s.StartWait(fmt.Sprintf("endpoint %s (%s)", name, what))
	var last *serving.ServingEndpointDetailed
	cb := func(ep *serving.ServingEndpointDetailed) {
		last = ep
		p.Seen(endpointStateText(ep))
	}
	var ep *serving.ServingEndpointDetailed
	var err error
	if w != nil {
		ep, err = w.OnProgress(cb).GetWithTimeout(s.Opts.Timeouts.Endpoint)
	} else {
		ep, err = s.Client.W.ServingEndpoints.WaitGetServingEndpointNotUpdating(ctx, name, s.Opts.Timeouts.Endpoint, cb)
	}
	p.Done()
	if err == nil {
		return ep, nil
	}
	if last != nil && last.State != nil && (last.State.ConfigUpdate == serving.EndpointStateConfigUpdateUpdateFailed || last.State.ConfigUpdate == serving.EndpointStateConfigUpdateUpdateCanceled) {
		return nil, rollout.NewUpdateFailedError(ctx, s.Client.W.ServingEndpoints, last, err)
	}
	return nil, fmt.Errorf("endpoint %s: waiting for %s: %w", name, what, err)
}

// WaitEndpointReady polls until the endpoint reports READY.
func (s *State) WaitEndpointReady(ctx context.Context, name string) (*serving.ServingEndpointDetailed, error) {
	p := s.StartWait("endpoint " + name + " READY")
	defer p.Done()
	var ep *serving.ServingEndpointDetailed
	err := s.PollUntil(ctx, s.Opts.Timeouts.Endpoint, p, func() (string, error) {
		var err error
		ep, err = s.Client.W.ServingEndpoints.GetByName(ctx, name)
		if err != nil {
			return "error", err
		}
		if ep.State != nil && ep.State.Ready == serving.EndpointStateReadyReady {
			return endpointStateText(ep), nil
		}
		return endpointStateText(ep), ErrStillWaiting
	})
	return ep, err
}

func endpointStateText(ep *serving.ServingEndpointDetailed) string {
	if ep == nil || ep.State == nil {
		return "unknown"
	}
	return fmt.Sprintf("%s, %s", ep.State.ConfigUpdate, ep.State.Ready)
}

// EndpointSnapshot is the journal's view of an endpoint's live config.
func EndpointSnapshot(ep *serving.ServingEndpointDetailed) *release.EndpointState {
	if ep == nil {
		return nil
	}
	st := &release.EndpointState{Name: ep.Name, Tags: map[string]string{}}
	for _, t := range ep.Tags {
		st.Tags[t.Key] = t.Value
	}
	if ep.State != nil {
		st.Ready, st.ConfigUpdate = string(ep.State.Ready), string(ep.State.ConfigUpdate)
	}
	if ep.Config != nil {
		for _, e := range ep.Config.ServedEntities {
			st.ServedEntities = append(st.ServedEntities, release.ServedEntity{
				Name: e.Name, EntityName: e.EntityName, EntityVersion: e.EntityVersion,
				WorkloadSize: e.WorkloadSize, ScaleToZero: e.ScaleToZeroEnabled,
			})
		}
		if ep.Config.TrafficConfig != nil {
			for _, r := range ep.Config.TrafficConfig.Routes {
				st.Traffic = append(st.Traffic, release.Route{ServedModelName: rollout.RouteName(r), Percent: r.TrafficPercentage})
			}
		}
	}
	return st
}

// servesOnly reports whether the live config sends all traffic to exactly
// this model version.
func servesOnly(ep *serving.ServingEndpointDetailed, model, version string) bool {
	st := EndpointSnapshot(ep)
	if len(st.ServedEntities) != 1 {
		return false
	}
	e := st.ServedEntities[0]
	if e.EntityName != model || e.EntityVersion != version {
		return false
	}
	return len(st.Traffic) == 0 || (len(st.Traffic) == 1 && st.Traffic[0].Percent == 100)
}

// DescribeTraffic renders "model v3 100%" or "model v3 90%, model v4 10%".
func DescribeTraffic(st *release.EndpointState) string {
	if st == nil || len(st.ServedEntities) == 0 {
		return "nothing served"
	}
	pct := map[string]int{}
	for _, r := range st.Traffic {
		pct[r.ServedModelName] = r.Percent
	}
	if len(st.Traffic) == 0 && len(st.ServedEntities) == 1 {
		pct[st.ServedEntities[0].Name] = 100
	}
	var parts []string
	for _, e := range st.ServedEntities {
		parts = append(parts, fmt.Sprintf("%s v%s %d%%", e.EntityName, e.EntityVersion, pct[e.Name]))
	}
	return strings.Join(parts, ", ")
}
