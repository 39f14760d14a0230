package e2e

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// A workspace may answer traffic routes with served_model_name only
// (tests/contract, TestRouteNames). Deploy, a failed update and status read
// the served entity from either name.
func TestRoutesByModelName(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(o *emulator.Options) { o.RoutesByModelName = true })
	w.repo.Tag("v1.0.0")
	w.release(cd.EnvDev)
	w.repo.Commit("next")
	w.repo.Tag("v1.1.0")
	w.srv.FailNextEndpointUpdate(w.config(cd.EnvDev).Endpoint.Name, "ERROR: build failed")
	_, err := w.deploy(cd.EnvDev)
	require.Error(t, err)

	r := w.run(cd.EnvDev)
	st, err := cd.Status(context.Background(), r.Opts)
	require.NoError(t, err)
	require.NotNil(t, st.Endpoint)
	assert.Equal(t, []release.Route{{ServedModelName: w.served(cd.EnvDev, "1"), Percent: 100}}, st.Endpoint.Traffic)
	require.NotNil(t, st.Pending, "the failed update's config")
	assert.Equal(t, []release.Route{{ServedModelName: w.served(cd.EnvDev, "2"), Percent: 100}}, st.Pending.Traffic)
	assert.Contains(t, r.Output(), "v2 100% (UPDATE_FAILED)")
}
