package e2e

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/cd/cdtest"
)

func TestReleaseFlowSmoke(t *testing.T) {
	ctx := context.Background()
	srv := cdtest.Workspace(t)
	repo := cdtest.NewRepo(t, srv.URL())
	repo.Tag("v1.0.0")
	for _, env := range []string{"dev", "staging", "prod"} {
		run := cdtest.NewRun(t, repo, srv, env)
		err := cd.Deploy(ctx, run.Opts)
		t.Log(run.Output())
		require.NoError(t, err)
		run = cdtest.NewRun(t, repo, srv, env)
		err = cd.RunVerify(ctx, run.Opts)
		t.Log(run.Output())
		require.NoError(t, err)
	}
}
