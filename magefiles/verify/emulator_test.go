package verify

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// startEmulator runs a workspace emulator with one endpoint serving two
// versions of the agent model, half the traffic each, and returns a client
// tuned for load.
func startEmulator(t *testing.T) (*emulator.Server, *databricks.WorkspaceClient, []string) {
	t.Helper()
	return startEmulatorWith(t, emulator.Options{Metrics: emulator.MetricsOptions{Shape: emulator.MetricsCounters}})
}

// startEmulatorWith starts the emulator with these options; the default
// tests use cumulative counters, which a run of seconds can be checked by
// (a per-minute export closes its minute only after it ends).
func startEmulatorWith(t *testing.T, o emulator.Options) (*emulator.Server, *databricks.WorkspaceClient, []string) {
	t.Helper()
	srv, err := emulator.Start(o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	cfg := srv.Config()
	TuneForLoad(cfg, 4)
	w, err := databricks.NewWorkspaceClient(cfg)
	require.NoError(t, err)

	var versions []string
	for range 2 {
		v, _, err := srv.SeedModelVersion("agent")
		require.NoError(t, err)
		versions = append(versions, v)
	}
	in := serving.EndpointCoreConfigInput{Name: testEndpoint}
	for _, v := range versions {
		in.ServedEntities = append(in.ServedEntities, serving.ServedEntityInput{EntityName: "agent", EntityVersion: v, WorkloadSize: "Small", ScaleToZeroEnabled: true})
	}
	in.TrafficConfig = &serving.TrafficConfig{Routes: []serving.Route{
		{ServedEntityName: "agent-" + versions[0], TrafficPercentage: 50},
		{ServedEntityName: "agent-" + versions[1], TrafficPercentage: 50},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wait, err := w.ServingEndpoints.Create(ctx, serving.CreateServingEndpoint{Name: testEndpoint, Config: &in})
	require.NoError(t, err)
	_, err = wait.Get()
	require.NoError(t, err)
	return srv, w, versions
}

func emulatorOptions(t *testing.T) Options {
	return Options{
		Env: "staging", Endpoint: testEndpoint, Cases: loadRepoCases(t),
		Load: &LoadConfig{
			Concurrency: 4, Duration: time.Minute, MaxRequests: 200,
			Thresholds: Thresholds{MaxP95: 10 * time.Second, MaxErrorRate: 0.01},
		},
		Metrics:      &MetricsConfig{},
		ArtifactsDir: t.TempDir(),
	}
}

func TestEmulatorEndToEndPasses(t *testing.T) {
	srv, w, versions := startEmulator(t)
	opts := emulatorOptions(t)
	rep, err := Run(context.Background(), w.ServingEndpoints, opts)
	require.NoError(t, err)
	require.True(t, rep.Passed, "%v", rep.Failures)

	// Both served versions answered the load, and the export counted every
	// request the endpoint answered.
	for _, v := range versions {
		assert.Positive(t, rep.Load.ServedModels["agent-"+v], "agent-%s served part of the load", v)
	}
	assert.Equal(t, 200, rep.Load.Succeeded)
	assert.Equal(t, float64(rep.Metrics.Sent), rep.Metrics.Requests)
	var served int64
	for _, s := range srv.EntityStats(testEndpoint) {
		served += s.Requests
	}
	assert.Equal(t, int64(rep.Metrics.Sent), served)

	ju := readJUnit(t, opts.ArtifactsDir, "staging")
	assert.Zero(t, ju.Failures)
	assert.Equal(t, len(opts.Cases), ju.Suites[0].Tests)
}

// With the service's per-minute export, the minute of a short run has not
// closed yet when verify reads: the count check says so and is skipped,
// not failed, and not passed silently.
func TestEmulatorPerMinuteExportNotClosedYet(t *testing.T) {
	clock := emulator.NewManualClock(time.Date(2025, 6, 1, 12, 0, 30, 0, time.UTC))
	_, w, _ := startEmulatorWith(t, emulator.Options{MetricsClock: clock})
	opts := emulatorOptions(t)
	opts.Load = nil
	rep, err := Run(context.Background(), w.ServingEndpoints, opts)
	require.NoError(t, err)
	require.NotNil(t, rep.Metrics)
	assert.False(t, rep.Metrics.Covered)
	require.Len(t, rep.Metrics.Checks, 2)
	assert.Equal(t, Skip, rep.Metrics.Checks[0].Outcome)
	assert.Contains(t, rep.Metrics.Checks[0].Message, "shows a minute once it has closed")
	assert.Equal(t, Pass, rep.Metrics.Checks[1].Outcome)
}

func TestEmulatorFlakyVersionFailsLoadAndMetrics(t *testing.T) {
	srv, w, versions := startEmulator(t)
	srv.SetVersionBehavior("agent", versions[1], emulator.Behavior{PlatformErrorRate: 0.5})
	opts := emulatorOptions(t)
	opts.Smoke = true
	rep, err := Run(context.Background(), w.ServingEndpoints, opts)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrFailed), err)
	assert.Contains(t, err.Error(), "load: error rate")
	assert.Contains(t, err.Error(), "HTTP 500")
	assert.Contains(t, err.Error(), "metrics: metrics export shows")
	assert.Contains(t, err.Error(), "agent-"+versions[1]+":", "the 5xx are pinned on the flaky version")
	assert.NotContains(t, err.Error(), "agent-"+versions[0]+":")
	require.NotNil(t, rep.Metrics)
	assert.Zero(t, rep.Metrics.Entities["agent-"+versions[0]].Errors5xx)
}
