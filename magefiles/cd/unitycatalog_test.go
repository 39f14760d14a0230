package cd

import (
	"testing"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
)

func TestReleaseAlias(t *testing.T) {
	tests := []struct{ tag, want string }{
		{"v1.2.0", "release_v1_2_0"},
		{"v1.2.0-rc.1", "release_v1_2_0_rc_1"},
		{"v10.0.3+build.7", "release_v10_0_3_build_7"},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			got := ReleaseAlias(tt.tag)
			assert.Equal(t, tt.want, got)
			assert.Regexp(t, `^[A-Za-z0-9_]+$`, got, "alias names take letters, digits and underscores")
		})
	}
}

func endpointServing(model string, routes ...any) *serving.ServingEndpointDetailed {
	ep := &serving.ServingEndpointDetailed{Config: &serving.EndpointCoreConfigOutput{TrafficConfig: &serving.TrafficConfig{}}}
	for i := 0; i+2 < len(routes); i += 3 {
		name, version, pct := routes[i].(string), routes[i+1].(string), routes[i+2].(int)
		entity := model
		if name == "other" {
			entity = "main.other.model"
		}
		ep.Config.ServedEntities = append(ep.Config.ServedEntities, serving.ServedEntityOutput{Name: name, EntityName: entity, EntityVersion: version})
		ep.Config.TrafficConfig.Routes = append(ep.Config.TrafficConfig.Routes, serving.Route{ServedEntityName: name, TrafficPercentage: pct})
	}
	return ep
}

func TestServingAliases(t *testing.T) {
	const model = "prod.agent.m"
	tests := []struct {
		name                 string
		ep                   *serving.ServingEndpointDetailed
		champion, challenger string
	}{
		{"nothing served", nil, "", ""},
		{"one version at 100%", endpointServing(model, "m-3", "3", 100), "3", ""},
		{"canary at 10%", endpointServing(model, "m-3", "3", 90, "m-4", "4", 10), "3", "4"},
		{"canary listed first", endpointServing(model, "m-4", "4", 10, "m-3", "3", 90), "3", "4"},
		{"a removed entity at 0% is nobody", endpointServing(model, "m-3", "3", 100, "m-4", "4", 0), "3", ""},
		{"another model's version is not ours", endpointServing(model, "other", "7", 90, "m-4", "4", 10), "4", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			champion, challenger := ServingAliases(tt.ep, model)
			assert.Equal(t, tt.champion, champion)
			assert.Equal(t, tt.challenger, challenger)
		})
	}
}

func TestAliasMoves(t *testing.T) {
	cfg := &EnvConfig{Registry: RegistryUnityCatalog, ChampionAlias: "champion", ChallengerAlias: "challenger"}
	tests := []struct {
		name                 string
		have                 map[string]string
		champion, challenger string
		want                 []string
	}{
		{"first release", map[string]string{}, "1", "", []string{"@champion -> v1"}},
		{"canary starts", map[string]string{"champion": "1"}, "1", "2", []string{"@challenger -> v2"}},
		{"canary promoted", map[string]string{"champion": "1", "challenger": "2"}, "2", "", []string{"@champion v1 -> v2", "@challenger removed (was v2)"}},
		{"canary aborted", map[string]string{"champion": "1", "challenger": "2"}, "1", "", []string{"@challenger removed (was v2)"}},
		{"nothing to do", map[string]string{"champion": "2", "release_v1_0_0": "2"}, "2", "", nil},
		{"nothing of ours serves: champion left alone", map[string]string{"champion": "2"}, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, m := range aliasMoves(cfg, tt.have, tt.champion, tt.challenger) {
				got = append(got, m.String())
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDescribeAliases(t *testing.T) {
	got := DescribeAliases(map[string]string{"release_v1_0_0": "1", "challenger": "3", "champion": "2", "release_v1_1_0": "2"})
	assert.Equal(t, "@champion v2, @challenger v3, @release_v1_1_0 v2, @release_v1_0_0 v1", got)
	assert.Equal(t, "no aliases", DescribeAliases(nil))
}
