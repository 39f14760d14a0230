package releasenotes

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

func TestDeployedFromRecords(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	write := func(env, tag string, kind release.Kind, version string) {
		clock = clock.Add(time.Minute)
		now := clock
		j := &release.Journal{Env: env, Store: release.DirStore{Dir: dir}, Dir: env, Now: func() time.Time { return now }}
		rec := &release.Record{Env: env, Kind: kind, Release: tag, SHA: "abc1234",
			Model:    &release.ModelVersionRef{Name: "model_" + env, Version: version},
			Endpoint: &release.EndpointState{Name: "endpoint-" + env}}
		require.NoError(t, j.Begin(ctx, rec))
		require.NoError(t, j.Finish(ctx, rec, release.OutcomeVerified, nil))
	}
	write("dev", "v1.0.0", release.KindDeploy, "1")
	write("dev", "v1.1.0", release.KindDeploy, "2")
	write("dev", "v1.1.0", release.KindDeploy, "3") // a re-deploy: the newest wins
	write("staging", "v1.1.0", release.KindDeploy, "1")
	write("prod", "v1.0.0", release.KindDeploy, "1")
	write("prod", "v1.1.0", release.KindRollback, "1") // not a deploy of the tag

	got, err := DeployedFromRecords(ctx, dir, "v1.1.0")
	require.NoError(t, err)
	assert.Equal(t, []Deployment{
		{Env: "dev", Model: "model_dev", Version: "3", Endpoint: "endpoint-dev"},
		{Env: "staging", Model: "model_staging", Version: "1", Endpoint: "endpoint-staging"},
	}, got)

	none, err := DeployedFromRecords(ctx, filepath.Join(dir, "missing"), "v1.1.0")
	require.NoError(t, err)
	assert.Empty(t, none)
}
