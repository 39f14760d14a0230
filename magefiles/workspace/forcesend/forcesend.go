// Package forcesend adds the fields the serving service requires to the
// requests the client writes, where the SDK's JSON encoding would leave them
// out.
//
// The SDK omits a false bool unless ForceSendFields names it. The service
// refuses a served entity without scale_to_zero_enabled ("scaleToZeroEnabled
// is undefined. Please set it to either true or false."), so a config that
// serves with scale to zero off would be refused. Every served entity the
// client sends (deploy, serve, canary, rollout, abort, restore, rollback)
// goes through ServedEntity or EndpointConfig.
package forcesend

import (
	"slices"

	"github.com/databricks/databricks-sdk-go/service/serving"
)

// ScaleToZero is the SDK field name that must always be sent.
const ScaleToZero = "ScaleToZeroEnabled"

// ServedEntity returns e with scale_to_zero_enabled always sent.
func ServedEntity(e serving.ServedEntityInput) serving.ServedEntityInput {
	if !slices.Contains(e.ForceSendFields, ScaleToZero) {
		e.ForceSendFields = append(slices.Clip(e.ForceSendFields), ScaleToZero)
	}
	return e
}

// EndpointConfig returns a copy of cfg whose served entities always send
// scale_to_zero_enabled; cfg itself is not changed. Served models (the
// older form) always send it already.
func EndpointConfig(cfg serving.EndpointCoreConfigInput) serving.EndpointCoreConfigInput {
	if cfg.ServedEntities != nil {
		ents := make([]serving.ServedEntityInput, len(cfg.ServedEntities))
		for i, e := range cfg.ServedEntities {
			ents[i] = ServedEntity(e)
		}
		cfg.ServedEntities = ents
	}
	return cfg
}

// CreateEndpoint returns a copy of req whose config's served entities always
// send scale_to_zero_enabled.
func CreateEndpoint(req serving.CreateServingEndpoint) serving.CreateServingEndpoint {
	if req.Config != nil {
		cfg := EndpointConfig(*req.Config)
		req.Config = &cfg
	}
	return req
}
