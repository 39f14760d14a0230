package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// TestUnreachableProdFailsAtOnce: with production's workspace gone (its
// address refuses connections), deploy, verify, status and rollback each
// fail at once naming the environment, the host and what to check, with
// the SDK's full 5-minute retry window configured: the SDK alone would
// retry "connection refused" in silence for all of it. How long each took
// is logged, not asserted (machines here are noisy); a regression would
// hold the test for minutes.
func TestUnreachableProdFailsAtOnce(t *testing.T) {
	t.Parallel()
	w := newUCWorlds(t)
	w.ship("v1.0.0", allEnvs...)
	host := w.server(cd.EnvProd).URL()
	require.NoError(t, w.server(cd.EnvProd).Close())
	fullWindow := func(o *cd.Options) { o.Client.RetryTimeoutSeconds = 300 }
	calls := map[string]func(o cd.Options) error{
		"deploy": func(o cd.Options) error { return cd.Deploy(context.Background(), o) },
		"verify": func(o cd.Options) error { return cd.RunVerify(context.Background(), o) },
		"status": func(o cd.Options) error { _, err := cd.Status(context.Background(), o); return err },
		"rollback": func(o cd.Options) error {
			return cd.Rollback(context.Background(), o, cd.RollbackTarget{Release: "v1.0.0"})
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			r := w.run(cd.EnvProd, fullWindow)
			start := time.Now()
			err := call(r.Opts)
			t.Logf("%s failed after %s", name, time.Since(start))
			var ue *workspace.UnreachableError
			require.ErrorAs(t, err, &ue, r.Output())
			assert.Equal(t, cd.EnvProd, ue.Target)
			assert.Contains(t, err.Error(), "cannot reach the workspace of target prod at "+host+": nothing accepts connections there (refused); check workspace.host in databricks.yml")
		})
	}
}
