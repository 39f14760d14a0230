package contract

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// A served entity without scale_to_zero_enabled is refused: "cannot update
// model serving: scaleToZeroEnabled is undefined. Please set it to either
// true or false." (terraform-provider-databricks issues #3946 and #4064;
// its pull request #3387 fixed it by always sending the field). The SDK
// leaves a false bool out unless ForceSendFields names it, so false must be
// force-sent. The quotes come from updates; creation is held to the same
// rule (the provider's fix sends the field on both). Status and code are
// not quoted publicly: 400 INVALID_PARAMETER_VALUE is the emulator's.
func TestServedEntityNeedsScaleToZero(t *testing.T) {
	ws := start(t, emulator.Options{})
	c := testCtx(t)
	v := ws.seed(t, "agent", 2)
	const undefined = "scaleToZeroEnabled is undefined. Please set it to either true or false."

	left := entity("agent", v[0], false)
	left.ForceSendFields = nil // what the SDK sends for a plain false
	_, err := ws.w.ServingEndpoints.Create(c, serving.CreateServingEndpoint{Name: "ep", Config: &serving.EndpointCoreConfigInput{
		ServedEntities: []serving.ServedEntityInput{left}}})
	ae := apiError(t, err)
	assert.Equal(t, http.StatusBadRequest, ae.StatusCode)
	assert.Equal(t, undefined, ae.Message)

	// Sent as false it is accepted, and so is true.
	wait, err := ws.w.ServingEndpoints.Create(c, serving.CreateServingEndpoint{Name: "ep", Config: &serving.EndpointCoreConfigInput{
		ServedEntities: []serving.ServedEntityInput{entity("agent", v[0], false)}}})
	require.NoError(t, err)
	ep, err := wait.Get()
	require.NoError(t, err)
	assert.False(t, ep.Config.ServedEntities[0].ScaleToZeroEnabled)

	// An update that leaves it out is refused the same way.
	second := entity("agent", v[1], false)
	second.ForceSendFields = nil
	_, err = ws.w.ServingEndpoints.UpdateConfig(c, serving.EndpointCoreConfigInput{Name: "ep", ServedEntities: []serving.ServedEntityInput{second}})
	assert.Equal(t, undefined, apiError(t, err).Message)
	_, err = ws.w.ServingEndpoints.UpdateConfig(c, serving.EndpointCoreConfigInput{Name: "ep", ServedEntities: []serving.ServedEntityInput{entity("agent", v[1], true)}})
	require.NoError(t, err)
}

// During an update the old config keeps serving: state.ready stays READY,
// config_update is IN_PROGRESS and pending_config holds the new config;
// afterwards config_update is NOT_UPDATING and pending_config is gone. A
// second update while one is IN_PROGRESS is refused. Source:
// databricks-sdk-go service/serving/model.go, EndpointState ("if the
// endpoint's config_update state value is IN_PROGRESS, another update can
// not be made until the update completes or fails"; "An endpoint is READY
// if all of the served entities in its active configuration are ready")
// and ServingEndpointDetailed.PendingConfig ("The config that the endpoint
// is attempting to update to"). The refusal's status and code are not
// quoted publicly: the emulator answers 409 RESOURCE_CONFLICT.
func TestEndpointUpdateKeepsServing(t *testing.T) {
	clock := emulator.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ws := start(t, emulator.Options{Clock: clock, TimeScale: 1})
	c := testCtx(t)
	v := ws.seed(t, "agent", 3)
	_, err := ws.w.ServingEndpoints.Create(c, serving.CreateServingEndpoint{Name: "ep", Config: &serving.EndpointCoreConfigInput{
		ServedEntities: []serving.ServedEntityInput{entity("agent", v[0], true)}}})
	require.NoError(t, err)
	clock.Advance(emulator.DefaultDurations.EndpointUpdate)

	_, err = ws.w.ServingEndpoints.UpdateConfig(c, serving.EndpointCoreConfigInput{Name: "ep", ServedEntities: []serving.ServedEntityInput{entity("agent", v[1], true)}})
	require.NoError(t, err)
	ep, err := ws.w.ServingEndpoints.GetByName(c, "ep")
	require.NoError(t, err)
	assert.Equal(t, serving.EndpointStateReadyReady, ep.State.Ready, "the old config serves")
	assert.Equal(t, serving.EndpointStateConfigUpdateInProgress, ep.State.ConfigUpdate)
	require.NotNil(t, ep.PendingConfig)
	assert.Equal(t, v[1], ep.PendingConfig.ServedEntities[0].EntityVersion)
	assert.Equal(t, v[0], ep.Config.ServedEntities[0].EntityVersion)

	_, err = ws.w.ServingEndpoints.UpdateConfig(c, serving.EndpointCoreConfigInput{Name: "ep", ServedEntities: []serving.ServedEntityInput{entity("agent", v[2], true)}})
	assert.ErrorIs(t, err, apierr.ErrResourceConflict, "one update at a time")

	clock.Advance(emulator.DefaultDurations.EndpointUpdate)
	ep, err = ws.w.ServingEndpoints.GetByName(c, "ep")
	require.NoError(t, err)
	assert.Equal(t, serving.EndpointStateConfigUpdateNotUpdating, ep.State.ConfigUpdate)
	assert.Equal(t, serving.EndpointStateReadyReady, ep.State.Ready)
	assert.Nil(t, ep.PendingConfig)
	assert.Equal(t, v[1], ep.Config.ServedEntities[0].EntityVersion)
}

// Served entity settings the service takes: a workload size other than
// Small/Medium/Large ("Additional custom workload sizes can also be used
// when available in the workspace", databricks-sdk-go
// service/serving/model.go, ServedEntityInput.WorkloadSize); routes naming
// their entity by served_model_name, as the "Serve multiple models to a
// model serving endpoint" document's examples do; and at most 15 served
// entities per endpoint. No public page in reach states the limit of 15 or
// quotes its refusal: the limit is an assumption the emulator keeps, and
// the message is its own.
func TestServedEntitySettings(t *testing.T) {
	ws := start(t, emulator.Options{})
	c := testCtx(t)
	v := ws.seed(t, "agent", 16)

	custom := entity("agent", v[0], true)
	custom.WorkloadSize = "2XLarge"
	wait, err := ws.w.ServingEndpoints.Create(c, serving.CreateServingEndpoint{Name: "custom", Config: &serving.EndpointCoreConfigInput{
		ServedEntities: []serving.ServedEntityInput{custom}}})
	require.NoError(t, err, "a custom workload size is accepted")
	ep, err := wait.Get()
	require.NoError(t, err)
	assert.Equal(t, "2XLarge", ep.Config.ServedEntities[0].WorkloadSize)

	byModelName := serving.EndpointCoreConfigInput{
		ServedEntities: []serving.ServedEntityInput{entity("agent", v[0], true), entity("agent", v[1], true)},
		TrafficConfig: &serving.TrafficConfig{Routes: []serving.Route{
			{ServedModelName: "agent-" + v[0], TrafficPercentage: 90},
			{ServedModelName: "agent-" + v[1], TrafficPercentage: 10},
		}},
	}
	_, err = ws.w.ServingEndpoints.Create(c, serving.CreateServingEndpoint{Name: "split", Config: &byModelName})
	require.NoError(t, err, "routes may name entities by served_model_name")

	for _, n := range []int{15, 16} {
		cfg := serving.EndpointCoreConfigInput{TrafficConfig: &serving.TrafficConfig{}}
		for i := range n {
			cfg.ServedEntities = append(cfg.ServedEntities, entity("agent", v[i], true))
			share := 0
			if i == 0 {
				share = 100
			}
			cfg.TrafficConfig.Routes = append(cfg.TrafficConfig.Routes, serving.Route{ServedEntityName: "agent-" + v[i], TrafficPercentage: share})
		}
		_, err := ws.w.ServingEndpoints.Create(c, serving.CreateServingEndpoint{Name: fmt.Sprintf("many-%d", n), Config: &cfg})
		if n == 15 {
			require.NoError(t, err, "15 served entities are allowed")
			continue
		}
		ae := apiError(t, err)
		assert.Equal(t, http.StatusBadRequest, ae.StatusCode)
		assert.Contains(t, ae.Message, "at most 15")
	}
}

// Routes may come back naming their entity by served_model_name only
// (serving.Route has both fields, each optional); clients must read either.
// The emulator answers both names by default, as the Databricks CLI's test
// server does (libs/testserver/serving_endpoints.go), and only
// served_model_name with Options.RoutesByModelName. Which a given workspace
// answers is not documented.
func TestRouteNames(t *testing.T) {
	for _, byModel := range []bool{false, true} {
		t.Run(fmt.Sprintf("by model name %t", byModel), func(t *testing.T) {
			ws := start(t, emulator.Options{RoutesByModelName: byModel})
			c := testCtx(t)
			v := ws.seed(t, "agent", 1)
			wait, err := ws.w.ServingEndpoints.Create(c, serving.CreateServingEndpoint{Name: "ep", Config: &serving.EndpointCoreConfigInput{
				ServedEntities: []serving.ServedEntityInput{entity("agent", v[0], true)}}})
			require.NoError(t, err)
			ep, err := wait.Get()
			require.NoError(t, err)
			require.Len(t, ep.Config.TrafficConfig.Routes, 1)
			r := ep.Config.TrafficConfig.Routes[0]
			assert.Equal(t, "agent-"+v[0], r.ServedModelName)
			if byModel {
				assert.Empty(t, r.ServedEntityName)
			} else {
				assert.Equal(t, "agent-"+v[0], r.ServedEntityName)
			}
		})
	}
}
