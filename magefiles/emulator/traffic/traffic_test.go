package traffic

import (
	"context"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// start runs an emulator for one test and returns it, its SDK client and
// a context bounded to a minute.
func start(t *testing.T) (*emulator.Server, *databricks.WorkspaceClient, context.Context) {
	t.Helper()
	srv, err := emulator.Start(emulator.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	w, err := srv.WorkspaceClient()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return srv, w, ctx
}

// TestClock drives a real endpoint on the emulator through the SDK: each
// sleep sends rate x d requests (fractions carried over), split by the
// endpoint's traffic config, and failures are counted.
func TestClock(t *testing.T) {
	srv, w, ctx := start(t)

	v1, _, err := srv.SeedModelVersion("agent")
	require.NoError(t, err)
	v2, _, err := srv.SeedModelVersion("agent")
	require.NoError(t, err)
	srv.SetVersionBehavior("agent", v2, emulator.Behavior{ErrorRate: 1})
	wait, err := w.ServingEndpoints.Create(ctx, serving.CreateServingEndpoint{Name: "ep", Config: &serving.EndpointCoreConfigInput{
		ServedEntities: []serving.ServedEntityInput{
			{EntityName: "agent", EntityVersion: v1, WorkloadSize: "Small", ScaleToZeroEnabled: true},
			{EntityName: "agent", EntityVersion: v2, WorkloadSize: "Small", ScaleToZeroEnabled: true},
		},
		TrafficConfig: &serving.TrafficConfig{Routes: []serving.Route{
			{ServedEntityName: "agent-" + v1, TrafficPercentage: 50},
			{ServedEntityName: "agent-" + v2, TrafficPercentage: 50},
		}},
	}})
	require.NoError(t, err)
	_, err = wait.Get()
	require.NoError(t, err)

	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewClock(w.ServingEndpoints, "ep", start, 2.5)
	var seen []int
	c.OnSleep(func(n int) { seen = append(seen, n) })

	require.NoError(t, c.Sleep(ctx, time.Second)) // 2.5: sends 2, owes 0.5
	require.NoError(t, c.Sleep(ctx, time.Second)) // 3.0: sends 3
	sent, failed := c.Sent()
	assert.Equal(t, int64(5), sent)
	assert.Equal(t, start.Add(2*time.Second), c.Now())
	assert.Equal(t, 2, c.Sleeps())
	assert.Equal(t, []int{1, 2}, seen)

	stats := srv.EntityStats("ep")
	assert.Equal(t, int64(5), stats["agent-"+v1].Requests+stats["agent-"+v2].Requests, "the emulator served every request")
	assert.Equal(t, stats["agent-"+v2].Requests, failed, "every request to the failing version failed")

	c.SetRate(0)
	require.NoError(t, c.Sleep(ctx, time.Hour))
	sent, _ = c.Sent()
	assert.Equal(t, int64(5), sent, "rate 0 sends nothing")

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, c.Sleep(canceled, time.Second), context.Canceled)
}

// TestHTTPQuerier sends the clients' requests as plain HTTP: routed by the
// split and counted like the SDK's, failures as errors with their status.
func TestHTTPQuerier(t *testing.T) {
	srv, w, ctx := start(t)
	v1, _, err := srv.SeedModelVersion("agent")
	require.NoError(t, err)
	wait, err := w.ServingEndpoints.Create(ctx, serving.CreateServingEndpoint{Name: "ep", Config: &serving.EndpointCoreConfigInput{
		ServedEntities: []serving.ServedEntityInput{{EntityName: "agent", EntityVersion: v1, WorkloadSize: "Small", ScaleToZeroEnabled: true}},
	}})
	require.NoError(t, err)
	_, err = wait.Get()
	require.NoError(t, err)

	q := NewHTTPQuerier(srv.URL(), srv.Token())
	resp, err := q.Query(ctx, serving.QueryEndpointInput{Name: "ep", DataframeRecords: []any{map[string]any{"message": "hi"}}})
	require.NoError(t, err)
	assert.Equal(t, "agent-"+v1, resp.ServedModelName)

	c := NewClock(q, "ep", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 4)
	require.NoError(t, c.Sleep(ctx, time.Second))
	assert.Equal(t, int64(5), srv.EntityStats("ep")["agent-"+v1].Requests, "the emulator served the query and the clock's 4")

	srv.SetVersionBehavior("agent", v1, emulator.Behavior{ErrorRate: 1})
	_, err = q.Query(ctx, serving.QueryEndpointInput{Name: "ep", DataframeRecords: []any{map[string]any{"message": "hi"}}})
	require.ErrorContains(t, err, "query ep: status 400", "the model raised: a 4xx")
	srv.SetVersionBehavior("agent", v1, emulator.Behavior{PlatformErrorRate: 1})
	_, err = q.Query(ctx, serving.QueryEndpointInput{Name: "ep", DataframeRecords: []any{map[string]any{"message": "hi"}}})
	require.ErrorContains(t, err, "query ep: status 500", "the platform failed: a 5xx")
	_, err = (&HTTPQuerier{Host: srv.URL(), Token: "wrong"}).Query(ctx, serving.QueryEndpointInput{Name: "ep"})
	require.ErrorContains(t, err, "query ep: status 40", "refused: a 4xx with its status")
	_, err = q.Query(ctx, serving.QueryEndpointInput{Name: "no-such-endpoint"})
	require.ErrorContains(t, err, "status 404")
	_, err = (&HTTPQuerier{Host: "http://127.0.0.1:1", Token: "t"}).Query(ctx, serving.QueryEndpointInput{Name: "ep"})
	require.Error(t, err)
}
