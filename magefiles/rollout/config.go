package rollout

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace/forcesend"
)

// Pure functions over endpoint configs: what the endpoint serves now, and
// the configs the rollout sends. Every config built here routes traffic to
// at most two entities, and keeps the stable entity routed until Promote.

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// ServedEntityName is the served entity name of a model version,
// "<model>-<version>" with characters outside [A-Za-z0-9_-] replaced and
// the model part shortened to fit 63 characters. Distinct versions get
// distinct names, which the canary needs (stable and candidate side by side).
func ServedEntityName(model, version string) string {
	base := strings.Trim(unsafeName.ReplaceAllString(model, "-"), "-")
	suffix := "-" + unsafeName.ReplaceAllString(version, "-")
	if len(base)+len(suffix) > 63 {
		base = strings.TrimRight(base[:max(63-len(suffix), 0)], "-")
	}
	return base + suffix
}

// Entity is a served entity spec as UpdateConfig takes it.
type Entity = serving.ServedEntityInput

// sameVersion reports whether two specs serve the same model version.
func sameVersion(a, b Entity) bool {
	return a.EntityName == b.EntityName && a.EntityVersion == b.EntityVersion
}

// describe renders "agent v3 (agent-3)".
func describe(e Entity) string {
	return fmt.Sprintf("%s v%s (%s)", e.EntityName, e.EntityVersion, e.Name)
}

// InputOf turns a served entity as the endpoint reports it back into the
// spec that serves it unchanged, so a config that keeps it does not
// redeploy it. scale_to_zero_enabled is always sent (see forcesend).
func InputOf(o serving.ServedEntityOutput) Entity {
	in := Entity{
		Name: o.Name, EntityName: o.EntityName, EntityVersion: o.EntityVersion,
		WorkloadSize: o.WorkloadSize, WorkloadType: o.WorkloadType, ScaleToZeroEnabled: o.ScaleToZeroEnabled,
		MinProvisionedConcurrency: o.MinProvisionedConcurrency, MaxProvisionedConcurrency: o.MaxProvisionedConcurrency,
		MinProvisionedThroughput: o.MinProvisionedThroughput, MaxProvisionedThroughput: o.MaxProvisionedThroughput,
		ProvisionedModelUnits: o.ProvisionedModelUnits, BurstScalingEnabled: o.BurstScalingEnabled,
		InstanceProfileArn: o.InstanceProfileArn, ExternalModel: o.ExternalModel,
	}
	if len(o.EnvironmentVars) > 0 {
		in.EnvironmentVars = make(map[string]string, len(o.EnvironmentVars))
		for k, v := range o.EnvironmentVars {
			in.EnvironmentVars[k] = v
		}
	}
	return forcesend.ServedEntity(in)
}

// RouteName is the served entity a route sends traffic to. The service may
// name it by served_entity_name, served_model_name or both, so read either.
func RouteName(r serving.Route) string {
	if r.ServedEntityName != "" {
		return r.ServedEntityName
	}
	return r.ServedModelName
}

// Traffic returns the served config's traffic shares by served entity
// name. A config with one entity and no routes sends it everything.
func Traffic(ep *serving.ServingEndpointDetailed) map[string]int {
	out := map[string]int{}
	if ep == nil || ep.Config == nil {
		return out
	}
	if ep.Config.TrafficConfig != nil {
		for _, r := range ep.Config.TrafficConfig.Routes {
			out[RouteName(r)] += r.TrafficPercentage
		}
	}
	if len(out) == 0 && len(ep.Config.ServedEntities) == 1 {
		out[ep.Config.ServedEntities[0].Name] = 100
	}
	return out
}

// DescribeTraffic renders "agent-3 90%, agent-4 10%" in config order.
func DescribeTraffic(ep *serving.ServingEndpointDetailed) string {
	if ep == nil || ep.Config == nil || len(ep.Config.ServedEntities) == 0 {
		return "nothing served"
	}
	t := Traffic(ep)
	parts := make([]string, 0, len(ep.Config.ServedEntities))
	for _, e := range ep.Config.ServedEntities {
		parts = append(parts, fmt.Sprintf("%s %d%%", e.Name, t[e.Name]))
	}
	return strings.Join(parts, ", ")
}

// position is where the endpoint stands in a rollout of the candidate.
type position struct {
	// stable is the routed entity that is not the candidate; nil once the
	// candidate has all the traffic.
	stable *Entity
	// candidate is the live candidate entity; nil before the canary.
	candidate *Entity
	// weight is the candidate's share of traffic.
	weight int
	// leftovers are entities at 0% that the next config drops.
	leftovers []string
}

// ErrNotServing is returned when the endpoint has no served config yet:
// there is no stable version to compare a canary against (a first release
// is served directly).
var ErrNotServing = errors.New("the endpoint serves no version yet")

// locate finds the stable and candidate entities in the live config. The
// candidate is recognised by model version; the stable entity is the one
// routed entity besides it (it must match stableHint when that is given).
// An endpoint that splits traffic over other versions is not guessed at.
func locate(ep *serving.ServingEndpointDetailed, cand Entity, stableHint *Entity) (position, error) {
	var pos position
	if ep == nil || ep.Config == nil || len(ep.Config.ServedEntities) == 0 {
		return pos, ErrNotServing
	}
	traffic := Traffic(ep)
	var others []Entity
	for _, o := range ep.Config.ServedEntities {
		in := InputOf(o)
		switch {
		case sameVersion(in, cand):
			c := in
			pos.candidate, pos.weight = &c, traffic[in.Name]
		case traffic[in.Name] > 0:
			others = append(others, in)
		default:
			pos.leftovers = append(pos.leftovers, in.Name)
		}
	}
	switch {
	case len(others) > 1:
		names := make([]string, len(others))
		for i, o := range others {
			names[i] = fmt.Sprintf("%s %d%%", describe(o), traffic[o.Name])
		}
		sort.Strings(names)
		return pos, fmt.Errorf("endpoint %s splits traffic over %s besides the candidate: roll back to one version before a canary", ep.Name, strings.Join(names, ", "))
	case len(others) == 1:
		s := others[0]
		if stableHint != nil && !sameVersion(s, *stableHint) {
			return pos, fmt.Errorf("endpoint %s serves %s, not the expected stable %s v%s", ep.Name, describe(s), stableHint.EntityName, stableHint.EntityVersion)
		}
		pos.stable = &s
	}
	if pos.stable != nil && pos.candidate == nil && pos.stable.Name == cand.Name {
		return pos, fmt.Errorf("endpoint %s serves %s under the served entity name the candidate %s v%s would use: give the candidate a distinct name", ep.Name, describe(*pos.stable), cand.EntityName, cand.EntityVersion)
	}
	if pos.stable == nil && pos.weight < 100 {
		// Nothing routed besides a candidate that lacks traffic: the
		// traffic config does not add up, which the service refuses.
		return pos, fmt.Errorf("endpoint %s routes no traffic to a stable version (%s)", ep.Name, DescribeTraffic(ep))
	}
	return pos, nil
}

// canaryConfig serves stable and candidate side by side with the candidate
// at weight percent. weight is 1..99, so the stable entity stays routed.
func canaryConfig(endpoint string, stable, cand Entity, weight int) serving.EndpointCoreConfigInput {
	return serving.EndpointCoreConfigInput{
		Name:           endpoint,
		ServedEntities: []Entity{stable, cand},
		TrafficConfig: &serving.TrafficConfig{Routes: []serving.Route{
			{ServedEntityName: stable.Name, TrafficPercentage: 100 - weight},
			{ServedEntityName: cand.Name, TrafficPercentage: weight},
		}},
	}
}

// singleConfig serves one entity with all the traffic.
func singleConfig(endpoint string, e Entity) serving.EndpointCoreConfigInput {
	return serving.EndpointCoreConfigInput{
		Name:           endpoint,
		ServedEntities: []Entity{e},
		TrafficConfig:  &serving.TrafficConfig{Routes: []serving.Route{{ServedEntityName: e.Name, TrafficPercentage: 100}}},
	}
}

// servesOnly reports whether the live config serves exactly this model
// version with all the traffic.
func servesOnly(ep *serving.ServingEndpointDetailed, e Entity) bool {
	if ep == nil || ep.Config == nil || len(ep.Config.ServedEntities) != 1 {
		return false
	}
	live := InputOf(ep.Config.ServedEntities[0])
	return sameVersion(live, e) && Traffic(ep)[live.Name] == 100
}

// matches reports whether the live config is the one asked for: the same
// entities (by name and version) with the same traffic.
func matches(ep *serving.ServingEndpointDetailed, cfg serving.EndpointCoreConfigInput) bool {
	if ep == nil || ep.Config == nil || len(ep.Config.ServedEntities) != len(cfg.ServedEntities) {
		return false
	}
	live := map[string]Entity{}
	for _, o := range ep.Config.ServedEntities {
		live[o.Name] = InputOf(o)
	}
	for _, e := range cfg.ServedEntities {
		l, ok := live[e.Name]
		if !ok || !sameVersion(l, e) {
			return false
		}
	}
	want := map[string]int{}
	if cfg.TrafficConfig != nil {
		for _, r := range cfg.TrafficConfig.Routes {
			want[r.ServedEntityName] += r.TrafficPercentage
		}
	}
	got := Traffic(ep)
	for _, e := range cfg.ServedEntities {
		if got[e.Name] != want[e.Name] {
			return false
		}
	}
	return true
}

// ready reports whether the endpoint is done updating and READY.
func ready(ep *serving.ServingEndpointDetailed) bool {
	return ep != nil && ep.State != nil && ep.State.Ready == serving.EndpointStateReadyReady &&
		ep.State.ConfigUpdate != serving.EndpointStateConfigUpdateInProgress
}

func stateText(ep *serving.ServingEndpointDetailed) string {
	if ep == nil || ep.State == nil {
		return "unknown state"
	}
	return fmt.Sprintf("%s, %s", ep.State.ConfigUpdate, ep.State.Ready)
}
