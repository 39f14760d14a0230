package e2e

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// TestDeadDeployRecordIsSuperseded: a deploy:prod killed mid-canary leaves
// its record in progress and its lock. What takes its place (a rollback,
// mage unlock, or a deploy of another release) closes that record as
// superseded, saying who and when, so no record claims a dead deploy is
// still running.
func TestDeadDeployRecordIsSuperseded(t *testing.T) {
	t.Parallel()
	for _, next := range []string{"rollback", "unlock", "deploy"} {
		t.Run(next, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.toStaging()
			killed := w.prodRun(withEnv(cd.ExitAfterStageEnv, "canary"), func(o *cd.Options) { o.Process = cd.Process{PID: deadPID(t)} })
			require.ErrorIs(t, killed.deploy(w.ctx), cd.ErrExitedAfterStage, killed.Output())
			dead := w.prodRecords(release.KindDeploy)[1]
			require.Equal(t, release.OutcomeInProgress, dead.Outcome)

			var out string
			switch next {
			case "rollback":
				r, err := w.rollback(cd.RollbackTarget{Release: "v1.0.0"})
				require.NoError(t, err, r.Output())
				out = r.Output()
			case "unlock":
				r := w.run(cd.EnvProd)
				_, err := cd.Unlock(w.ctx, r.Opts)
				require.NoError(t, err, r.Output())
				out = r.Output()
			case "deploy":
				// The next release's deploy closes the dead record, then
				// refuses a canary on an endpoint still split between two
				// versions, as it always does.
				w.ship("v1.2.0", cd.EnvDev, cd.EnvStaging)
				r := w.prodRun()
				assert.ErrorContains(t, r.deploy(w.ctx), "roll back to one version before a canary")
				out = r.Output()
			}
			assert.Contains(t, out, "record "+dead.ID+" (deploy v1.1.0) was left in progress by a run that is gone: marked superseded")
			got, err := w.journal(cd.EnvProd).Get(w.ctx, dead.ID)
			require.NoError(t, err)
			assert.Equal(t, release.OutcomeSuperseded, got.Outcome)
			require.NotNil(t, got.Finished)
			assert.Contains(t, strings.Join(got.Notes, "\n"), "superseded at ")
			assert.Contains(t, strings.Join(got.Notes, "\n"), " by "+w.server(cd.EnvProd).UserName()+": ")
			for _, r := range w.records(cd.EnvProd) {
				assert.NotEqual(t, release.OutcomeInProgress, r.Outcome, "record %s (%s)", r.ID, r.Release)
			}
		})
	}
}
