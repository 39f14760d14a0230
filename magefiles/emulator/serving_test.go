package emulator

import (
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func create(t *testing.T, w *databricks.WorkspaceClient, in serving.EndpointCoreConfigInput) *serving.ServingEndpointDetailed {
	t.Helper()
	ep, err := createEndpointAndWait(ctx(t), w, serving.CreateServingEndpoint{Name: in.Name, Config: &in})
	require.NoError(t, err)
	return ep
}

func TestEndpointLifecycle(t *testing.T) {
	srv, w := start(t, Options{})
	c := ctx(t)
	seed(t, srv, "agent", 2)

	in := served("agent-dev", "agent", []string{"1"}, nil)
	wait, err := w.ServingEndpoints.Create(c, serving.CreateServingEndpoint{Name: "agent-dev", Config: &in, Tags: []serving.EndpointTag{{Key: "env", Value: "dev"}}})
	require.NoError(t, err)
	assert.Equal(t, serving.EndpointStateConfigUpdateInProgress, wait.Response.State.ConfigUpdate)
	assert.Equal(t, serving.EndpointStateReadyNotReady, wait.Response.State.Ready)
	assert.Nil(t, wait.Response.Config, "nothing serves before the first update completes")
	require.NotNil(t, wait.Response.PendingConfig)
	assert.Equal(t, serving.ServedModelStateDeploymentDeploymentCreating, wait.Response.PendingConfig.ServedEntities[0].State.Deployment)

	ep, err := wait.Get()
	require.NoError(t, err)
	assert.Equal(t, serving.EndpointStateConfigUpdateNotUpdating, ep.State.ConfigUpdate)
	assert.Equal(t, serving.EndpointStateReadyReady, ep.State.Ready)
	require.NotNil(t, ep.Config)
	assert.Equal(t, int64(1), ep.Config.ConfigVersion)
	require.Len(t, ep.Config.ServedEntities, 1)
	assert.Equal(t, "agent-1", ep.Config.ServedEntities[0].Name, "named <model>-<version> like the service")
	assert.Equal(t, serving.ServedModelStateDeploymentDeploymentReady, ep.Config.ServedEntities[0].State.Deployment)
	assert.Equal(t, []serving.Route{{ServedEntityName: "agent-1", ServedModelName: "agent-1", TrafficPercentage: 100}}, stripRoutes(ep.Config.TrafficConfig.Routes))
	assert.Nil(t, ep.PendingConfig)

	// Canary: 90/10 between versions 1 and 2.
	ep, err = updateConfigAndWait(c, w, served("agent-dev", "agent", []string{"1", "2"}, []int{90, 10}))
	require.NoError(t, err)
	assert.Equal(t, int64(2), ep.Config.ConfigVersion)
	assert.Equal(t, map[string]int{"agent-1": 90, "agent-2": 10}, srv.Traffic("agent-dev"))

	got, err := w.ServingEndpoints.GetByName(c, "agent-dev")
	require.NoError(t, err)
	assert.Equal(t, []serving.EndpointTag{{Key: "env", Value: "dev"}}, stripTags(got.Tags))
	list, err := w.ServingEndpoints.ListAll(c)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Len(t, list[0].Config.ServedEntities, 2)

	logs, err := w.ServingEndpoints.BuildLogsByNameAndServedModelName(c, "agent-dev", "agent-2")
	require.NoError(t, err)
	assert.Contains(t, logs.Logs, "built successfully")
	_, err = w.ServingEndpoints.BuildLogsByNameAndServedModelName(c, "agent-dev", "agent-9")
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)
	server, err := w.ServingEndpoints.LogsByNameAndServedModelName(c, "agent-dev", "agent-1")
	require.NoError(t, err)
	assert.Contains(t, server.Logs, "requests=0")

	require.NoError(t, w.ServingEndpoints.DeleteByName(c, "agent-dev"))
	_, err = w.ServingEndpoints.GetByName(c, "agent-dev")
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)
	require.ErrorIs(t, w.ServingEndpoints.DeleteByName(c, "agent-dev"), apierr.ErrResourceDoesNotExist)
}

func stripRoutes(rs []serving.Route) []serving.Route {
	out := make([]serving.Route, len(rs))
	for i, r := range rs {
		out[i] = serving.Route{ServedEntityName: r.ServedEntityName, ServedModelName: r.ServedModelName, TrafficPercentage: r.TrafficPercentage}
	}
	return out
}

func stripTags(ts []serving.EndpointTag) []serving.EndpointTag {
	out := make([]serving.EndpointTag, len(ts))
	for i, tg := range ts {
		out[i] = serving.EndpointTag{Key: tg.Key, Value: tg.Value}
	}
	return out
}

func TestEndpointUpdateTakesTimeAndKeepsServing(t *testing.T) {
	clock := NewManualClock(time.Unix(1_700_000_000, 0))
	srv, w := start(t, Options{Clock: clock, TimeScale: 1})
	c := ctx(t)
	seed(t, srv, "agent", 2)
	_, err := w.ServingEndpoints.Create(c, serving.CreateServingEndpoint{Name: "ep", Config: ptrTo(served("ep", "agent", []string{"1"}, nil))})
	require.NoError(t, err)

	_, err = w.ServingEndpoints.Query(c, serving.QueryEndpointInput{Name: "ep", DataframeRecords: []any{map[string]any{"message": "hi"}}})
	require.ErrorIs(t, err, apierr.ErrInvalidState, "not queryable before the first config is served")
	_, err = w.ServingEndpoints.UpdateConfig(c, served("ep", "agent", []string{"2"}, nil))
	require.ErrorIs(t, err, apierr.ErrResourceConflict, "one update at a time")

	clock.Advance(DefaultDurations.EndpointUpdate - time.Second)
	ep, err := w.ServingEndpoints.GetByName(c, "ep")
	require.NoError(t, err)
	assert.Equal(t, serving.EndpointStateConfigUpdateInProgress, ep.State.ConfigUpdate)
	clock.Advance(time.Second)
	ep, err = w.ServingEndpoints.GetByName(c, "ep")
	require.NoError(t, err)
	assert.Equal(t, serving.EndpointStateConfigUpdateNotUpdating, ep.State.ConfigUpdate)

	// Deploying version 2: version 1 keeps serving until the update is done.
	upd, err := w.ServingEndpoints.UpdateConfig(c, served("ep", "agent", []string{"1", "2"}, []int{50, 50}))
	require.NoError(t, err)
	pending := upd.Response.PendingConfig
	require.NotNil(t, pending)
	states := map[string]serving.ServedModelStateDeployment{}
	for _, e := range pending.ServedEntities {
		states[e.Name] = e.State.Deployment
	}
	assert.Equal(t, map[string]serving.ServedModelStateDeployment{
		"agent-1": serving.ServedModelStateDeploymentDeploymentReady,
		"agent-2": serving.ServedModelStateDeploymentDeploymentCreating,
	}, states, "an unchanged entity stays ready, a new one deploys")
	for range 20 {
		resp, err := w.ServingEndpoints.Query(c, serving.QueryEndpointInput{Name: "ep", DataframeRecords: []any{map[string]any{"message": "hi"}}})
		require.NoError(t, err)
		assert.Equal(t, "agent-1", resp.ServedModelName)
	}
	clock.Advance(DefaultDurations.EndpointUpdate)
	assert.Equal(t, map[string]int{"agent-1": 50, "agent-2": 50}, srv.Traffic("ep"))

	// Moving traffic only takes the short update time.
	_, err = w.ServingEndpoints.UpdateConfig(c, served("ep", "agent", []string{"1", "2"}, []int{0, 100}))
	require.NoError(t, err)
	clock.Advance(DefaultDurations.TrafficUpdate)
	assert.Equal(t, map[string]int{"agent-1": 0, "agent-2": 100}, srv.Traffic("ep"))
}

func ptrTo[T any](v T) *T { return &v }

func TestEndpointValidation(t *testing.T) {
	clock := NewManualClock(time.Unix(1_700_000_000, 0))
	srv, w := start(t, Options{Clock: clock, TimeScale: 1})
	c := ctx(t)
	seed(t, srv, "agent", 2)
	// A version still PENDING_REGISTRATION.
	runID := loggedRun(t, srv)
	_, err := w.ModelRegistry.CreateModelVersion(c, ml.CreateModelVersionRequest{Name: "agent", Source: "runs:/" + runID + "/agent"})
	require.NoError(t, err)
	_, err = w.ServingEndpoints.Create(c, serving.CreateServingEndpoint{Name: "existing", Config: ptrTo(served("existing", "agent", []string{"1"}, nil))})
	require.NoError(t, err)

	entity := func(name, version string) serving.ServedEntityInput {
		return serving.ServedEntityInput{EntityName: name, EntityVersion: version, Name: "", WorkloadSize: "Small", ScaleToZeroEnabled: true}
	}
	tests := []struct {
		name string
		req  serving.CreateServingEndpoint
		want error
		msg  string
	}{
		{"routes do not sum to 100", serving.CreateServingEndpoint{Name: "e", Config: ptrTo(served("e", "agent", []string{"1", "2"}, []int{90, 20}))}, apierr.ErrInvalidParameterValue, "sum to 100"},
		{"route to a missing entity", serving.CreateServingEndpoint{Name: "e", Config: &serving.EndpointCoreConfigInput{
			ServedEntities: []serving.ServedEntityInput{entity("agent", "1")},
			TrafficConfig:  &serving.TrafficConfig{Routes: []serving.Route{{ServedEntityName: "agent-2", TrafficPercentage: 100}}},
		}}, apierr.ErrInvalidParameterValue, "not in the config"},
		{"two entities without traffic", serving.CreateServingEndpoint{Name: "e", Config: ptrTo(served("e", "agent", []string{"1", "2"}, nil))}, apierr.ErrInvalidParameterValue, "traffic_config is required"},
		{"duplicate entity names", serving.CreateServingEndpoint{Name: "e", Config: &serving.EndpointCoreConfigInput{
			ServedEntities: []serving.ServedEntityInput{entity("agent", "1"), entity("agent", "1")},
			TrafficConfig:  &serving.TrafficConfig{Routes: []serving.Route{{ServedEntityName: "agent-1", TrafficPercentage: 100}}},
		}}, apierr.ErrInvalidParameterValue, "more than once"},
		{"negative share", serving.CreateServingEndpoint{Name: "e", Config: ptrTo(served("e", "agent", []string{"1", "2"}, []int{110, -10}))}, apierr.ErrInvalidParameterValue, "between 0 and 100"},
		{"missing version", serving.CreateServingEndpoint{Name: "e", Config: ptrTo(served("e", "agent", []string{"9"}, nil))}, apierr.ErrResourceDoesNotExist, "version=9"},
		{"missing model", serving.CreateServingEndpoint{Name: "e", Config: ptrTo(served("e", "nope", []string{"1"}, nil))}, apierr.ErrResourceDoesNotExist, "nope"},
		{"version not ready", serving.CreateServingEndpoint{Name: "e", Config: ptrTo(served("e", "agent", []string{"3"}, nil))}, apierr.ErrInvalidParameterValue, "PENDING_REGISTRATION"},
		{"scale to zero left out", serving.CreateServingEndpoint{Name: "e", Config: &serving.EndpointCoreConfigInput{
			ServedEntities: []serving.ServedEntityInput{{EntityName: "agent", EntityVersion: "1", WorkloadSize: "Small"}},
		}}, apierr.ErrInvalidParameterValue, "scaleToZeroEnabled is undefined"},
		{"external model", serving.CreateServingEndpoint{Name: "e", Config: &serving.EndpointCoreConfigInput{
			ServedEntities: []serving.ServedEntityInput{{ExternalModel: &serving.ExternalModel{Name: "gpt", Provider: "openai", Task: "llm/v1/chat"}}},
		}}, apierr.ErrInvalidParameterValue, "external models"},
		{"no entities", serving.CreateServingEndpoint{Name: "e", Config: &serving.EndpointCoreConfigInput{}}, apierr.ErrInvalidParameterValue, "at least one"},
		{"no config", serving.CreateServingEndpoint{Name: "e"}, apierr.ErrInvalidParameterValue, "config is required"},
		{"bad name", serving.CreateServingEndpoint{Name: "agent dev", Config: ptrTo(served("e", "agent", []string{"1"}, nil))}, apierr.ErrInvalidParameterValue, "Endpoint name"},
		{"name taken", serving.CreateServingEndpoint{Name: "existing", Config: ptrTo(served("e", "agent", []string{"1"}, nil))}, apierr.ErrResourceAlreadyExists, "already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.ServingEndpoints.Create(c, tt.req)
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
	_, err = w.ServingEndpoints.UpdateConfig(c, served("missing", "agent", []string{"1"}, nil))
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)
	_, ok := srv.Endpoint("e")
	assert.False(t, ok, "no rejected create left an endpoint behind")
}

func TestFailedEndpointUpdates(t *testing.T) {
	tests := []struct {
		name   string
		script func(srv *Server)
		logs   string
	}{
		{"scripted update failure", func(srv *Server) {
			srv.FailNextEndpointUpdate("ep", "ERROR: pip install failed: no matching distribution for mlflow==9")
		}, "no matching distribution"},
		{"version that cannot build", func(srv *Server) {
			srv.SetVersionBehavior("agent", "2", Behavior{BuildFailure: "ImportError: cannot import name 'Agent'"})
		}, "ImportError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, w := start(t, Options{})
			c := ctx(t)
			seed(t, srv, "agent", 2)
			create(t, w, served("ep", "agent", []string{"1"}, nil))
			tt.script(srv)

			_, err := updateConfigAndWait(c, w, served("ep", "agent", []string{"1", "2"}, []int{90, 10}))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "UPDATE_FAILED")

			ep, err := w.ServingEndpoints.GetByName(c, "ep")
			require.NoError(t, err)
			assert.Equal(t, serving.EndpointStateConfigUpdateUpdateFailed, ep.State.ConfigUpdate)
			assert.Equal(t, serving.EndpointStateReadyReady, ep.State.Ready, "the previous config still serves")
			assert.Equal(t, map[string]int{"agent-1": 100}, srv.Traffic("ep"))
			require.NotNil(t, ep.PendingConfig)
			for _, e := range ep.PendingConfig.ServedEntities {
				if e.Name == "agent-2" {
					assert.Equal(t, serving.ServedModelStateDeploymentDeploymentFailed, e.State.Deployment)
				}
			}
			logs, err := w.ServingEndpoints.BuildLogsByNameAndServedModelName(c, "ep", "agent-2")
			require.NoError(t, err)
			assert.Contains(t, logs.Logs, tt.logs)

			// A rollback to the served config succeeds.
			_, err = updateConfigAndWait(c, w, served("ep", "agent", []string{"1"}, nil))
			require.NoError(t, err)
		})
	}
	t.Run("failed first deployment", func(t *testing.T) {
		srv, w := start(t, Options{})
		seed(t, srv, "agent", 1)
		srv.FailNextEndpointUpdate("ep", "")
		_, err := createEndpointAndWait(ctx(t), w, serving.CreateServingEndpoint{Name: "ep", Config: ptrTo(served("ep", "agent", []string{"1"}, nil))})
		require.Error(t, err)
		ep, _ := srv.Endpoint("ep")
		assert.Equal(t, serving.EndpointStateReadyNotReady, ep.State.Ready)
		logs, err := w.ServingEndpoints.BuildLogsByNameAndServedModelName(ctx(t), "ep", "agent-1")
		require.NoError(t, err)
		assert.Contains(t, logs.Logs, "scripted failure")
	})
}

func TestServedModelsLegacyInput(t *testing.T) {
	srv, w := start(t, Options{})
	seed(t, srv, "agent", 1)
	ep, err := createEndpointAndWait(ctx(t), w, serving.CreateServingEndpoint{Name: "legacy", Config: &serving.EndpointCoreConfigInput{
		ServedModels: []serving.ServedModelInput{{ModelName: "agent", ModelVersion: "1", WorkloadSize: "Small", Name: "current"}},
	}})
	require.NoError(t, err)
	assert.Equal(t, "current", ep.Config.ServedEntities[0].Name)
	assert.Equal(t, "agent", ep.Config.ServedModels[0].ModelName)
	assert.True(t, strings.HasPrefix(ep.Id, ""), "id is set")
	assert.NotEmpty(t, ep.Id)
}

func TestEndpointTagsPatch(t *testing.T) {
	srv, w := start(t, Options{})
	vs := seed(t, srv, "agent", 1)
	create(t, w, served("agent-ep", "agent", vs, nil))

	tests := []struct {
		name    string
		patch   serving.PatchServingEndpointTags
		want    []serving.EndpointTag
		wantErr string
	}{
		{"add", serving.PatchServingEndpointTags{AddTags: []serving.EndpointTag{{Key: "release", Value: "v1.0.0"}, {Key: "git_sha", Value: "abc1234"}}},
			[]serving.EndpointTag{{Key: "git_sha", Value: "abc1234"}, {Key: "release", Value: "v1.0.0"}}, ""},
		{"overwrite and delete", serving.PatchServingEndpointTags{AddTags: []serving.EndpointTag{{Key: "release", Value: "v1.1.0"}}, DeleteTags: []string{"git_sha"}},
			[]serving.EndpointTag{{Key: "release", Value: "v1.1.0"}}, ""},
		{"empty key", serving.PatchServingEndpointTags{AddTags: []serving.EndpointTag{{Key: ""}}}, nil, "Tag key must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.patch.Name = "agent-ep"
			got, err := w.ServingEndpoints.Patch(ctx(t), tt.patch)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, stripTags(got.Tags))
			ep, err := w.ServingEndpoints.GetByName(ctx(t), "agent-ep")
			require.NoError(t, err)
			assert.Equal(t, tt.want, stripTags(ep.Tags))
		})
	}
	_, err := w.ServingEndpoints.Patch(ctx(t), serving.PatchServingEndpointTags{Name: "missing", AddTags: []serving.EndpointTag{{Key: "a"}}})
	require.ErrorIs(t, err, databricks.ErrResourceDoesNotExist)
}
