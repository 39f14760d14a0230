package emulator

import (
	"fmt"
	"slices"

	"github.com/databricks/databricks-sdk-go/service/serving"
)

// Behaviours held to the service's public contract (tests/contract cites
// the evidence for each): required fields the SDK marks optional, request
// type checks, error codes, run page URLs, the entity limit and route names.

// scaleToZeroSent reports whether a served entity's request named
// scale_to_zero_enabled. The SDK's decoding lists every scalar JSON field
// present in ForceSendFields, so a false that was sent is told apart from
// one that was left out.
func scaleToZeroSent(e serving.ServedEntityInput) bool {
	return e.ScaleToZeroEnabled || slices.Contains(e.ForceSendFields, "ScaleToZeroEnabled")
}

// errScaleToZeroUndefined is the service's refusal of a served entity
// without scale_to_zero_enabled, as users of the service quote it.
func errScaleToZeroUndefined() *apiError {
	return invalidParam("scaleToZeroEnabled is undefined. Please set it to either true or false.")
}

// runPageURL is a run's page: <host>/jobs/<job>/runs/<run>?o=<workspace id>.
func (s *Server) runPageURL(job, run int64) string {
	return fmt.Sprintf("%s/jobs/%d/runs/%d?o=%d", s.url, job, run, s.WorkspaceID())
}

// maxServedEntities is how many served entities one endpoint config may
// hold.
const maxServedEntities = 15

func errTooManyEntities(n int) *apiError {
	return invalidParam("An endpoint can serve at most %d entities; the config has %d.", maxServedEntities, n)
}

// renderEndpoint is the endpoint as the API answers it: with
// Options.RoutesByModelName, routes name their entity by served_model_name
// only.
func (s *Server) renderEndpoint(ep *endpointRec) serving.ServingEndpointDetailed {
	out := ep.render()
	if !s.opts.RoutesByModelName {
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
