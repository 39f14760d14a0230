package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/cd/cdtest"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/judge"
)

// TestCanaryPromotes: a good candidate is backed up against, put at 10%
// next to stable, judged minute by minute on the export of client traffic
// until canary_max_duration,
// promoted to 100%, smoke tested, and its record marked stable with the
// evidence.
func TestCanaryPromotes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.toStaging()
	stable, cand := w.served(cd.EnvProd, "1"), w.served(cd.EnvProd, "2")
	w.srv.ResetRequests()

	r := w.prodRun()
	require.NoError(t, r.deploy(w.ctx), r.Output())

	assert.Equal(t, map[string]int{cand: 100}, w.traffic(cd.EnvProd), "candidate alone at 100%, stable removed")
	ep, _ := w.endpoint(cd.EnvProd)
	require.Len(t, ep.Config.ServedEntities, 1)
	assert.Equal(t, "Medium", ep.Config.ServedEntities[0].WorkloadSize, "the candidate gets the bundle's compute")
	assert.Equal(t, 2, w.opsCount("serving-endpoints.update-config"), "one canary update, one promotion")
	sent := r.updates()
	require.Len(t, sent, 2)
	assert.Equal(t, map[string]int{stable: 90, cand: 10}, sent[0])
	assert.Equal(t, map[string]int{cand: 100}, sent[1])
	w.assertStableRouted(sent, stable, cand)

	rec := w.latest(cd.EnvProd)
	assert.Equal(t, "v1.1.0", rec.Release)
	assert.Equal(t, release.OutcomeStable, rec.Outcome)
	for _, st := range []string{"backup", "bundle", "promote", "canary", "analysis", "serve", "smoke"} {
		require.NotNil(t, rec.Stage(st), st)
		assert.Equal(t, release.StageOK, rec.Stage(st).Status, st)
	}
	cp := checkpoint(t, rec)
	assert.Equal(t, rollout.StagePromoted, cp.Stage)
	require.Len(t, cp.Intervals, 3, "one read a minute up to canary_max_duration")
	for _, iv := range cp.Intervals {
		assert.Equal(t, 10, iv.Percent)
		require.Len(t, iv.Judged, 1)
		assert.Positive(t, iv.Judged[0].Candidate.Requests)
	}
	last := cp.Intervals[2]
	assert.Equal(t, judge.Promote, last.Outcome, last.Reason)
	assert.GreaterOrEqual(t, last.Candidate.Requests, 100.0, "min_requests")
	assert.NotNil(t, last.LatencyStat, "latency is exported here, and judged")
	require.NotNil(t, rec.Previous)
	assert.Equal(t, []release.Route{{ServedModelName: stable, Percent: 100}}, rec.Previous.Traffic)
	assert.Equal(t, []release.Route{{ServedModelName: cand, Percent: 100}}, rec.Endpoint.Traffic)
	assert.Equal(t, "v1.1.0", rec.Endpoint.Tags["release"])
	var smoke cd.SmokeSummary
	ok, err := rec.Attachment(cd.AttachSmoke, &smoke)
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, smoke.Passed)
	assert.Positive(t, smoke.Tests)

	// The backup, in the workspace and (masked) under artifacts/.
	var backup string
	ok, err = rec.Attachment(rollout.BackupAttachment, &backup)
	require.NoError(t, err)
	require.True(t, ok)
	raw, ok := w.srv.WorkspaceFile(backup)
	require.True(t, ok, "backup %s in the workspace", backup)
	b, err := rollout.ParseBackup(raw)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{stable: 100}, routesOf(b))
	assert.Equal(t, "1", b.StableModel.Version)
	_, err = os.Stat(filepath.Join(w.repo.Dir, "artifacts", "backups", "prod", path.Base(backup)))
	assert.NoError(t, err)

	out := r.Output()
	assert.Contains(t, out, "minute 3: cand ")
	assert.Contains(t, out, "plan: 10% -> analyse every 1m0s -> 100% (sequential test: false aborts at most 0.01")
	sentReq, failed := r.Traffic.Sent()
	assert.Positive(t, sentReq)
	assert.Zero(t, failed, "clients were served throughout")

	// verify:prod then marks the stable release verified.
	vr, err := w.verify(cd.EnvProd)
	require.NoError(t, err, vr.Output())
	assert.Equal(t, release.OutcomeVerified, w.latest(cd.EnvProd).Outcome)
}

// TestCanaryLatencyNotExported: on a workspace whose export has no latency
// histograms, the canary says so in its output and record and judges
// errors with all of alpha; a slow candidate is not caught by latency.
func TestCanaryLatencyNotExported(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(o *emulator.Options) { o.Metrics.OmitLatency = true })
	w.toStaging()
	cand := w.served(cd.EnvProd, "2")
	r := w.prodRun()
	require.NoError(t, r.deploy(w.ctx), r.Output())
	assert.Equal(t, map[string]int{cand: 100}, w.traffic(cd.EnvProd))
	assert.Contains(t, r.Output(), "latency not exported by this workspace")
	cp := checkpoint(t, w.latest(cd.EnvProd))
	last := cp.Intervals[len(cp.Intervals)-1]
	assert.Equal(t, judge.LatencyNotExported, last.Latency)
	assert.Nil(t, last.LatencyStat)
}

func routesOf(b *rollout.Backup) map[string]int {
	out := map[string]int{}
	for _, r := range b.Endpoint.Routes {
		out[r.ServedEntityName] = r.TrafficPercentage
	}
	return out
}

// TestCanaryAborts: a bad candidate is pulled back within two minutes,
// traffic returns to 100% stable, and the record keeps the evidence.
func TestCanaryAborts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		behavior emulator.Behavior
		reason   string
	}{
		// The model raises: callers get 400 BAD_REQUEST, as on the service.
		{"model raises on 20% (4xx)", emulator.Behavior{ErrorRate: 0.2, Latency: cdtest.ModelLatency}, "share of errors"},
		{"20% platform 5xx", emulator.Behavior{PlatformErrorRate: 0.2, Latency: cdtest.ModelLatency}, "share of errors"},
		// 3x the model latency of the stable version (cdtest.ModelLatency).
		{"3x p95", emulator.Behavior{Latency: emulator.Latency{Median: 120 * time.Millisecond, P99: 240 * time.Millisecond}}, "slower than the endpoint's p95"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.toStaging()
			w.badVersion("2", tt.behavior)
			stable, cand := w.served(cd.EnvProd, "1"), w.served(cd.EnvProd, "2")

			r := w.prodRun()
			err := r.deploy(w.ctx)
			require.Error(t, err)
			var ae *rollout.AbortError
			require.ErrorAs(t, err, &ae, r.Output())
			assert.True(t, ae.Restored)
			assert.Equal(t, cd.ExitCandidateWorse, cd.ExitCode(err))
			assert.Contains(t, err.Error(), "the evidence is in release record")

			assert.Equal(t, map[string]int{stable: 100}, w.traffic(cd.EnvProd), "stable alone at 100% again")
			ep, _ := w.endpoint(cd.EnvProd)
			require.Len(t, ep.Config.ServedEntities, 1, "the candidate is removed")
			sent := r.updates()
			require.Len(t, sent, 2, "one canary update, one restore")
			assert.Equal(t, map[string]int{stable: 100}, sent[1])
			w.assertStableRouted(sent, stable, cand)

			rec := w.latest(cd.EnvProd)
			assert.Equal(t, release.OutcomeAborted, rec.Outcome)
			assert.Contains(t, rec.Error, "aborted")
			cp := checkpoint(t, rec)
			assert.Equal(t, rollout.StageAborted, cp.Stage)
			assert.LessOrEqual(t, len(cp.Intervals), 2, "aborted within two minutes")
			lastIv := cp.Intervals[len(cp.Intervals)-1]
			assert.Equal(t, judge.Abort, lastIv.Outcome)
			assert.Contains(t, lastIv.Reason, tt.reason)
			var sum cd.AbortSummary
			ok, err := rec.Attachment(cd.AttachAbort, &sum)
			require.NoError(t, err)
			require.True(t, ok)
			assert.True(t, sum.Restored)
			assert.Equal(t, rollout.CauseCandidateWorse, sum.Why)
			require.NotNil(t, sum.Decision)
			assert.Equal(t, judge.Abort, sum.Decision.Outcome)
			assert.Contains(t, r.Output(), "decision: Abort: ")
			assert.Equal(t, cand, sum.Candidate)
			assert.Nil(t, rec.Stage("serve"), "never promoted")
			assert.Nil(t, rec.Stage("smoke"))

			// Measured in the canary's (virtual) time and requests.
			served := w.srv.EntityStats(w.config(cd.EnvProd).Endpoint.Name)[cand].Requests
			t.Logf("%s: aborted after %d minutes, the bad candidate served %d requests", tt.name, len(cp.Intervals), served)

			// A later verify refuses the aborted release.
			_, err = w.verify(cd.EnvProd)
			assert.ErrorContains(t, err, "is aborted")
			assert.Equal(t, []string{"v1.0.0", "v1.1.0"}, releasesOf(w.records(cd.EnvProd)))
		})
	}
}

// TestCanaryPlatformErrorIsNotAVerdict: the platform answers 500 to the
// canary's config update. The stable version serves 100% again, and the
// record, the notifications and the exit code say "platform error,
// candidate not judged", never what a candidate judged bad gets.
func TestCanaryPlatformErrorIsNotAVerdict(t *testing.T) {
	t.Parallel()
	slack, _, notifyEnv := localNotify(t)
	w := newWorld(t)
	w.toStaging()
	stable := w.served(cd.EnvProd, "1")
	w.srv.InjectFaults("PUT /api/2.0/serving-endpoints/*/config", emulator.Fault500)

	r := w.prodRun(notifyEnv)
	err := r.deploy(w.ctx)
	var ae *rollout.AbortError
	require.ErrorAs(t, err, &ae, r.Output())
	assert.True(t, ae.Restored)
	assert.Equal(t, rollout.CausePlatformError, ae.Why())
	assert.Equal(t, cd.ExitPlatformError, cd.ExitCode(err))
	assert.Contains(t, err.Error(), "aborted (platform error, candidate not judged): setting the candidate to 10% failed")
	assert.Contains(t, r.Output(), "aborting (platform error): ")
	assert.Equal(t, map[string]int{stable: 100}, w.traffic(cd.EnvProd))

	rec := w.latest(cd.EnvProd)
	var sum cd.AbortSummary
	ok, aerr := rec.Attachment(cd.AttachAbort, &sum)
	require.NoError(t, aerr)
	require.True(t, ok)
	assert.Equal(t, rollout.CausePlatformError, sum.Why)
	assert.Nil(t, sum.Decision, "no analysis ran")

	var abort string
	for _, m := range slack.received() {
		if strings.HasPrefix(m["text"].(string), "🛑 Canary aborted") {
			raw, _ := json.Marshal(m)
			abort = string(raw)
		}
	}
	assert.Contains(t, abort, "was aborted (platform error, candidate not judged)")
}

func releasesOf(recs []*release.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Release)
	}
	return out
}

// TestLowTraffic: an endpoint nobody calls gives the canary nothing to
// judge: without probes it stops for insufficient traffic (its own
// outcome, not a verdict on the candidate), with probes it promotes.
func TestLowTraffic(t *testing.T) {
	t.Parallel()
	for _, probes := range []bool{false, true} {
		name := "no probes: insufficient traffic"
		if probes {
			name = "probes: promoted"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.toStaging()
			stable, cand := w.served(cd.EnvProd, "1"), w.served(cd.EnvProd, "2")
			mods := []func(*cd.Options){}
			if probes {
				mods = append(mods, withEnv(cd.CanaryProbesEnv, "1"))
			}
			r := w.prodRun(mods...)
			r.Traffic.SetRate(0)
			err := r.deploy(w.ctx)
			rec := w.latest(cd.EnvProd)
			cp := checkpoint(t, rec)
			if !probes {
				var ae *rollout.AbortError
				require.ErrorAs(t, err, &ae, r.Output())
				assert.Contains(t, ae.Reason, "insufficient traffic: 0 candidate requests in 3 minutes")
				assert.Contains(t, ae.Reason, "set CANARY_PROBES=1 or raise canary_traffic_percent")
				assert.Equal(t, judge.InsufficientTraffic, ae.Decision.Outcome)
				assert.Equal(t, map[string]int{stable: 100}, w.traffic(cd.EnvProd))
				assert.Equal(t, release.OutcomeAborted, rec.Outcome)
				require.Len(t, cp.Intervals, 3, "canary_max_duration")
				return
			}
			require.NoError(t, err, r.Output())
			assert.Equal(t, map[string]int{cand: 100}, w.traffic(cd.EnvProd))
			assert.Equal(t, release.OutcomeStable, rec.Outcome)
			assert.Contains(t, r.Output(), "probes: up to 667 per interval")
			for _, iv := range cp.Intervals {
				require.NotNil(t, iv.Probes)
				assert.Positive(t, iv.Probes.Sent)
				assert.Zero(t, iv.Probes.Failed)
			}
			assert.True(t, strings.Contains(r.Output(), "probes"))
		})
	}
}

// TestConcurrentDeploysRefused: while one deploy:prod is in its analysis,
// a second deploy and a rollback are refused by the lock, changing
// nothing; the first finishes.
func TestConcurrentDeploysRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.toStaging()
	first := w.prodRun()
	inAnalysis, resume := make(chan struct{}), make(chan struct{})
	first.Traffic.OnSleep(func(n int) {
		if n == 1 {
			close(inAnalysis)
			<-resume
		}
	})
	done := make(chan error, 1)
	go func() { done <- first.deploy(context.Background()) }()
	select {
	case <-inAnalysis:
	case err := <-done:
		t.Fatalf("the first deploy ended early: %v\n%s", err, first.Output())
	}

	w.srv.ResetRequests()
	second := w.prodRun()
	err := second.deploy(w.ctx)
	require.Error(t, err)
	assert.True(t, isLocked(err), "%v", err)
	assert.Contains(t, err.Error(), "prod is locked by")
	rb := w.run(cd.EnvProd)
	err = cd.Rollback(w.ctx, rb.Opts, cd.RollbackTarget{Release: "v1.0.0"})
	assert.True(t, isLocked(err), "%v", err)
	for _, r := range w.srv.MutatingRequests() {
		if r.Op == "serving-endpoints.query" {
			continue
		}
		assert.Equal(t, "workspace.import", r.Op, "only the refused lock attempts: %s %s", r.Method, r.Path)
		assert.GreaterOrEqual(t, r.Status, 400)
	}
	assert.Empty(t, second.updates())

	close(resume)
	require.NoError(t, <-done, first.Output())
	assert.Equal(t, map[string]int{w.served(cd.EnvProd, "2"): 100}, w.traffic(cd.EnvProd))
	assert.False(t, w.lockHeld(cd.EnvProd))
}

// TestLockKeptFreshAndLost: a long analysis refreshes the lock; a lock
// broken meanwhile (mage unlock) stops the rollout where it is, stable
// still routed, and a re-run resumes it.
func TestLockKeptFreshAndLost(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.toStaging()
	stable, cand := w.served(cd.EnvProd, "1"), w.served(cd.EnvProd, "2")
	refresh := func(o *cd.Options) { o.LockRefresh = -1 }
	r := w.prodRun(refresh)
	r.Traffic.OnSleep(func(n int) {
		if n == 2 {
			lr := w.run(cd.EnvProd)
			_, err := cd.Unlock(w.ctx, lr.Opts)
			assert.NoError(t, err)
		}
	})
	err := r.deploy(w.ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lost the prod lock", r.Output())
	assert.Contains(t, r.Output(), "lock refreshed until")
	assert.Equal(t, map[string]int{stable: 90, cand: 10}, w.traffic(cd.EnvProd), "stopped where it was: stable still routed")
	assert.Equal(t, release.OutcomeFailed, w.latest(cd.EnvProd).Outcome)

	r2 := w.prodRun(refresh)
	require.NoError(t, r2.deploy(w.ctx), r2.Output())
	assert.Contains(t, r2.Output(), "resuming record")
	assert.Equal(t, map[string]int{cand: 100}, w.traffic(cd.EnvProd))
	assert.Equal(t, []map[string]int{{cand: 100}}, r2.updates(), "only the promotion: the canary was not redeployed")
}
