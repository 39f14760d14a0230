package rollout

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServedEntityName(t *testing.T) {
	assert.Equal(t, "agent-prod-3", ServedEntityName("agent-prod", "3"))
	assert.Equal(t, "main-ml-agent-3", ServedEntityName("main.ml.agent", "3"))
	long := ServedEntityName(strings.Repeat("a", 80), "12")
	assert.Len(t, long, 63)
	assert.True(t, strings.HasSuffix(long, "-12"))
	assert.NotEqual(t, ServedEntityName("m", "1"), ServedEntityName("m", "2"))
}

// endpoint builds a served config: entity names with model versions, shares.
func endpoint(entities map[string]string, shares map[string]int) *serving.ServingEndpointDetailed {
	ep := &serving.ServingEndpointDetailed{Name: "ep", Config: &serving.EndpointCoreConfigOutput{TrafficConfig: &serving.TrafficConfig{}},
		State: &serving.EndpointState{Ready: serving.EndpointStateReadyReady, ConfigUpdate: serving.EndpointStateConfigUpdateNotUpdating}}
	for _, name := range []string{"m-1", "m-2", "m-3"} {
		v, ok := entities[name]
		if !ok {
			continue
		}
		ep.Config.ServedEntities = append(ep.Config.ServedEntities, serving.ServedEntityOutput{Name: name, EntityName: "m", EntityVersion: v})
		if s, ok := shares[name]; ok {
			ep.Config.TrafficConfig.Routes = append(ep.Config.TrafficConfig.Routes, serving.Route{ServedEntityName: name, TrafficPercentage: s})
		}
	}
	return ep
}

func TestLocate(t *testing.T) {
	cand := Entity{Name: "m-2", EntityName: "m", EntityVersion: "2"}
	tests := []struct {
		name      string
		ep        *serving.ServingEndpointDetailed
		hint      *Entity
		stable    string
		weight    int
		leftovers []string
		err       string
	}{
		{name: "nothing served", ep: &serving.ServingEndpointDetailed{Name: "ep"}, err: ErrNotServing.Error()},
		{name: "stable only", ep: endpoint(map[string]string{"m-1": "1"}, map[string]int{"m-1": 100}), stable: "m-1"},
		{name: "one entity without routes", ep: endpoint(map[string]string{"m-1": "1"}, nil), stable: "m-1"},
		{name: "canary", ep: endpoint(map[string]string{"m-1": "1", "m-2": "2"}, map[string]int{"m-1": 90, "m-2": 10}), stable: "m-1", weight: 10},
		{name: "promoted", ep: endpoint(map[string]string{"m-2": "2"}, map[string]int{"m-2": 100}), weight: 100},
		{name: "promoted with leftover", ep: endpoint(map[string]string{"m-1": "1", "m-2": "2"}, map[string]int{"m-1": 0, "m-2": 100}), weight: 100, leftovers: []string{"m-1"}},
		{name: "expected stable", ep: endpoint(map[string]string{"m-1": "1"}, map[string]int{"m-1": 100}), hint: &Entity{EntityName: "m", EntityVersion: "1"}, stable: "m-1"},
		{name: "unexpected stable", ep: endpoint(map[string]string{"m-3": "3"}, map[string]int{"m-3": 100}), hint: &Entity{EntityName: "m", EntityVersion: "1"}, err: "not the expected stable m v1"},
		{name: "split over two others", ep: endpoint(map[string]string{"m-1": "1", "m-3": "3"}, map[string]int{"m-1": 50, "m-3": 50}), err: "splits traffic over m v1 (m-1) 50%, m v3 (m-3) 50%"},
		{name: "stable under the candidate's name", ep: endpoint(map[string]string{"m-2": "1"}, map[string]int{"m-2": 100}), err: "give the candidate a distinct name"},
		{name: "candidate without traffic and nothing else routed", ep: endpoint(map[string]string{"m-1": "1", "m-2": "2"}, map[string]int{"m-1": 0, "m-2": 0}), err: "routes no traffic to a stable version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pos, err := locate(tt.ep, cand, tt.hint)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			if tt.stable == "" {
				assert.Nil(t, pos.stable)
			} else {
				require.NotNil(t, pos.stable)
				assert.Equal(t, tt.stable, pos.stable.Name)
			}
			assert.Equal(t, tt.weight, pos.weight)
			assert.Equal(t, tt.leftovers, pos.leftovers)
		})
	}
}

func TestConfigsKeepStableRouted(t *testing.T) {
	stable := Entity{Name: "m-1", EntityName: "m", EntityVersion: "1"}
	cand := Entity{Name: "m-2", EntityName: "m", EntityVersion: "2"}
	for w := 1; w <= 99; w++ {
		cfg := canaryConfig("ep", stable, cand, w)
		require.Len(t, cfg.TrafficConfig.Routes, 2)
		assert.Equal(t, 100-w, cfg.TrafficConfig.Routes[0].TrafficPercentage)
		assert.Positive(t, cfg.TrafficConfig.Routes[0].TrafficPercentage)
		assert.Equal(t, 100, cfg.TrafficConfig.Routes[0].TrafficPercentage+cfg.TrafficConfig.Routes[1].TrafficPercentage)
	}
	one := singleConfig("ep", stable)
	assert.Equal(t, []string{"m-1 100"}, routes(one))
}

func TestMatches(t *testing.T) {
	stable := Entity{Name: "m-1", EntityName: "m", EntityVersion: "1"}
	cand := Entity{Name: "m-2", EntityName: "m", EntityVersion: "2"}
	canary := endpoint(map[string]string{"m-1": "1", "m-2": "2"}, map[string]int{"m-1": 90, "m-2": 10})
	assert.True(t, matches(canary, canaryConfig("ep", stable, cand, 10)))
	assert.False(t, matches(canary, canaryConfig("ep", stable, cand, 20)), "other weight")
	assert.False(t, matches(canary, singleConfig("ep", stable)), "other entities")
	other := cand
	other.EntityVersion = "3"
	assert.False(t, matches(canary, canaryConfig("ep", stable, other, 10)), "same name, other version")
	assert.False(t, matches(nil, singleConfig("ep", stable)))
	assert.True(t, servesOnly(endpoint(map[string]string{"m-1": "1"}, nil), stable))
	assert.False(t, servesOnly(canary, stable))
}

func TestDescribeTraffic(t *testing.T) {
	assert.Equal(t, "m-1 90%, m-2 10%", DescribeTraffic(endpoint(map[string]string{"m-1": "1", "m-2": "2"}, map[string]int{"m-1": 90, "m-2": 10})))
	assert.Equal(t, "nothing served", DescribeTraffic(nil))
	assert.Empty(t, Traffic(nil))
}

func TestInputOfKeepsTheDeployment(t *testing.T) {
	out := serving.ServedEntityOutput{
		Name: "m-1", EntityName: "m", EntityVersion: "1", WorkloadSize: "Medium", WorkloadType: serving.ServingModelWorkloadTypeGpuSmall,
		ScaleToZeroEnabled: true, MinProvisionedConcurrency: 4, MaxProvisionedConcurrency: 8, EnvironmentVars: map[string]string{"A": "b"},
		InstanceProfileArn: "arn:x", Creator: "someone", CreationTimestamp: 1,
		State: &serving.ServedModelState{Deployment: serving.ServedModelStateDeploymentDeploymentReady},
	}
	in := InputOf(out)
	assert.Equal(t, Entity{
		Name: "m-1", EntityName: "m", EntityVersion: "1", WorkloadSize: "Medium", WorkloadType: serving.ServingModelWorkloadTypeGpuSmall,
		ScaleToZeroEnabled: true, MinProvisionedConcurrency: 4, MaxProvisionedConcurrency: 8, EnvironmentVars: map[string]string{"A": "b"},
		InstanceProfileArn: "arn:x", ForceSendFields: []string{"ScaleToZeroEnabled"},
	}, in)
	in.EnvironmentVars["A"] = "changed"
	assert.Equal(t, "b", out.EnvironmentVars["A"], "a copy")
}

func TestClocks(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := NewScaledClock(0.001)
	start := c.Now()
	require.NoError(t, c.Sleep(ctx, time.Second)) // 1ms of wall time
	assert.GreaterOrEqual(t, c.Now().Sub(start), time.Second, "service time")
	require.NoError(t, WallClock{}.Sleep(ctx, 0))
	cancel()
	assert.ErrorIs(t, c.Sleep(ctx, time.Hour), context.Canceled)
	assert.ErrorIs(t, WallClock{}.Sleep(ctx, time.Hour), context.Canceled)
	var zero ScaledClock
	assert.WithinDuration(t, time.Now(), zero.Now(), time.Minute, "no scale is wall time")
}
