package serving

import (
	"slices"

	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// Behaviours held to the service's public contract (tests/contract cites
// the evidence for each): a required field the SDK marks optional, the
// entity limit and route names.

// scaleToZeroSent reports whether a served entity's request named
// scale_to_zero_enabled. The SDK's decoding lists every scalar JSON field
// present in ForceSendFields, so a false that was sent is told apart from
// one that was left out.
func scaleToZeroSent(e serving.ServedEntityInput) bool {
	return e.ScaleToZeroEnabled || slices.Contains(e.ForceSendFields, "ScaleToZeroEnabled")
}

// errScaleToZeroUndefined is the service's refusal of a served entity
// without scale_to_zero_enabled, as users of the service quote it.
func errScaleToZeroUndefined() *core.Error {
	return core.InvalidParam("scaleToZeroEnabled is undefined. Please set it to either true or false.")
}

// maxServedEntities is how many served entities one endpoint config may
// hold.
const maxServedEntities = 15

func errTooManyEntities(n int) *core.Error {
	return core.InvalidParam("An endpoint can serve at most %d entities; the config has %d.", maxServedEntities, n)
}

// renderEndpoint is the endpoint as the API answers it: with
// Options.RoutesByModelName, routes name their entity by served_model_name
// only.
func (s *Store) renderEndpoint(ep *endpoint) serving.ServingEndpointDetailed {
	out := ep.render()
	if !s.routesByModelName {
		return out
	}
	strip := func(tc *serving.TrafficConfig) {
		if tc == nil {
			return
		}
		for i := range tc.Routes {
			tc.Routes[i].ServedEntityName = ""
		}
	}
	if out.Config != nil {
		strip(out.Config.TrafficConfig)
	}
	if out.PendingConfig != nil {
		strip(out.PendingConfig.TrafficConfig)
	}
	return out
}
