package e2e

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
)

// TestProdKilledAfterEachStageConverges: deploy:prod killed right after
// each of its stages (the exit hook: nothing released, nothing cleaned
// up) and run again converges to the candidate at 100% with one record,
// one backup of the endpoint as it was, and the endpoint answering every
// request throughout.
func TestProdKilledAfterEachStageConverges(t *testing.T) {
	t.Parallel()
	stages := []string{"lock", "record", "backup", "bundle", "promote", "canary", "analysis", "serve", "smoke"}
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.toStaging()
			stable, cand := w.served(cd.EnvProd, "1"), w.served(cd.EnvProd, "2")
			watch := w.watch(cd.EnvProd)

			killed := w.prodRun(withEnv(cd.ExitAfterStageEnv, stage), func(o *cd.Options) { o.Process = cd.Process{PID: deadPID(t)} })
			err := killed.deploy(w.ctx)
			require.ErrorIs(t, err, cd.ErrExitedAfterStage, killed.Output())
			assert.Equal(t, []int{cd.ExitAfterStageCode}, killed.Exits)
			assert.True(t, w.lockHeld(cd.EnvProd), "a killed deploy leaves its lock")
			want := map[string]int{stable: 100}
			switch stage {
			case "canary", "analysis":
				want = map[string]int{stable: 90, cand: 10}
			case "serve", "smoke":
				want = map[string]int{cand: 100}
			}
			assert.Equal(t, want, w.traffic(cd.EnvProd), "where the killed run left the endpoint")

			again := w.prodRun()
			require.NoError(t, again.deploy(w.ctx), again.Output())
			assert.Contains(t, again.Output(), "taking over the lock")
			assert.Equal(t, map[string]int{cand: 100}, w.traffic(cd.EnvProd))
			assert.False(t, w.lockHeld(cd.EnvProd))
			assert.Len(t, w.versions(cd.EnvProd), 2, "one copy of the release's version")

			deploys := w.prodRecords(release.KindDeploy)
			require.Len(t, deploys, 2, "the interrupted record is resumed, not duplicated")
			rec := deploys[1]
			assert.Equal(t, release.OutcomeStable, rec.Outcome)
			if stage != "lock" {
				assert.Contains(t, strings.Join(rec.Notes, "\n"), "resumed")
			}
			cp := checkpoint(t, rec)
			assert.Equal(t, rollout.StagePromoted, cp.Stage)
			assert.Len(t, cp.Intervals, 3, "no interval judged twice, none skipped")

			// The backup shows the endpoint before the change, whichever
			// run took it.
			var backup string
			_, err = rec.Attachment(rollout.BackupAttachment, &backup)
			require.NoError(t, err)
			raw, ok := w.srv.WorkspaceFile(backup)
			require.True(t, ok)
			b, err := rollout.ParseBackup(raw)
			require.NoError(t, err)
			assert.Equal(t, map[string]int{stable: 100}, routesOf(b))

			// Every config either run sent kept stable routed until the
			// promotion, and the promotion happened once.
			sent := append(killed.updates(), again.updates()...)
			w.assertStableRouted(sent, stable, cand)
			promotions := 0
			for _, tr := range sent {
				if tr[cand] == 100 {
					promotions++
				}
			}
			assert.Equal(t, 1, promotions)
			if stage == "analysis" {
				assert.Contains(t, again.Output(), "promotion decided earlier")
			}
			watch.assertServed(t)
		})
	}
}
