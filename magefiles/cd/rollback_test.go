package cd

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/notify"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

func TestChooseRollback(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	rec := func(kind release.Kind, tag, version string, o release.Outcome) *release.Record {
		n++
		return &release.Record{ID: tag + "-" + string(kind), Kind: kind, Release: tag, Outcome: o,
			Started: at.Add(time.Duration(n) * time.Hour), Model: &release.ModelVersionRef{Name: "m", Version: version}}
	}
	d := release.KindDeploy
	v1 := rec(d, "v1.0.0", "1", release.OutcomeVerified)
	v2 := rec(d, "v1.1.0", "2", release.OutcomeStable)
	v3abort := rec(d, "v1.2.0", "3", release.OutcomeAborted)
	v3failed := rec(d, "v1.2.0", "3", release.OutcomeFailed)
	v3running := rec(d, "v1.2.0", "3", release.OutcomeInProgress)
	rolled := rec(d, "v1.1.0", "2", release.OutcomeRolledBack)
	rbV1 := rec(release.KindRollback, "v1.0.0", "1", release.OutcomeStable)

	tests := []struct {
		name    string
		recs    []*release.Record
		served  map[string]int
		target  RollbackTarget
		want    string // the target version
		noop    bool
		from    string // the replaced release
		resolve string
		why     string // part of the explanation
		err     string
	}{
		{name: "the last stable serves: nothing to do", recs: []*release.Record{v1, v2}, served: map[string]int{"2": 100}, noop: true, from: "v1.1.0", resolve: "v1.1.0", why: "prod serves the last stable release v1.1.0 (model v2) alone; to go back to the stable release before it, name it: mage rollback prod -to=v1.0.0"},
		{name: "after a deploy that failed unverified: the last stable", recs: []*release.Record{v1, rec(d, "v1.1.0", "2", release.OutcomeVerifyFailed)}, served: map[string]int{"2": 100}, want: "1", from: "v1.1.0", resolve: "v1.1.0"},
		{name: "after an abort: nothing to do", recs: []*release.Record{v1, v2, v3abort}, served: map[string]int{"2": 100}, noop: true, from: "v1.1.0", resolve: "v1.2.0"},
		{name: "after a deploy that failed before the endpoint: nothing to do", recs: []*release.Record{v1, v2, v3failed}, served: map[string]int{"2": 100}, noop: true, from: "v1.1.0", resolve: "v1.2.0", why: "the deploy of v1.2.0 after it is failed (record v1.2.0-deploy) and did not replace it"},
		{name: "after a deploy killed before the endpoint: nothing to do", recs: []*release.Record{v1, v2, v3running}, served: map[string]int{"2": 100}, noop: true, from: "v1.1.0"},
		{name: "after a failed deploy, a named release still goes", recs: []*release.Record{v1, v2, v3failed}, served: map[string]int{"2": 100}, target: RollbackTarget{Release: "v1.0.0"}, want: "1", from: "v1.1.0", resolve: "v1.2.0"},
		{name: "after a failed deploy, a named version still goes", recs: []*release.Record{v1, v2, v3failed}, served: map[string]int{"2": 100}, target: RollbackTarget{Version: "1"}, want: "1", from: "v1.1.0"},
		{name: "after a failed rollout: the last stable", recs: []*release.Record{v1, v2, v3failed}, served: map[string]int{"3": 100}, want: "2", from: "v1.2.0", resolve: "v1.2.0"},
		{name: "a canary left half way: the last stable", recs: []*release.Record{v1, v2, v3failed}, served: map[string]int{"2": 90, "3": 10}, want: "2", resolve: "v1.2.0"},
		{name: "named release", recs: []*release.Record{v1, v2, v3abort}, served: map[string]int{"2": 100}, target: RollbackTarget{Release: "v1.0.0"}, want: "1", from: "v1.1.0", resolve: "v1.2.0"},
		{name: "named release that was rolled back", recs: []*release.Record{v1, rolled, rbV1}, served: map[string]int{"1": 100}, target: RollbackTarget{Release: "v1.1.0"}, want: "2", from: "v1.0.0"},
		{name: "named version", recs: []*release.Record{v1, v2}, served: map[string]int{"2": 100}, target: RollbackTarget{Version: "7"}, want: "7", from: "v1.1.0"},
		{name: "after a rollback: nothing to do", recs: []*release.Record{v1, rolled, rbV1}, served: map[string]int{"1": 100}, noop: true, from: "v1.0.0", why: "prod serves the last stable release v1.0.0 (model v1) alone"},
		{name: "only one release: nothing to do", recs: []*release.Record{v1}, served: map[string]int{"1": 100}, noop: true, from: "v1.0.0"},
		{name: "empty journal", served: map[string]int{"1": 100}, err: "prod has no stable release in its journal"},
		{name: "unknown release", recs: []*release.Record{v1, v2}, served: map[string]int{"2": 100}, target: RollbackTarget{Release: "v0.1.0"}, err: "prod has no record of release v0.1.0; known: v1.1.0 (v2, stable), v1.0.0 (v1, verified)"},
		{name: "aborted release", recs: []*release.Record{v1, v2, v3abort}, served: map[string]int{"2": 100}, target: RollbackTarget{Release: "v1.2.0"}, err: "release v1.2.0 never became stable in prod (its latest record v1.2.0-deploy is aborted)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := chooseRollback(tt.recs, tt.served, tt.target, "m", EnvProd)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.noop, p.Noop, p.Why)
			if !tt.noop {
				assert.Equal(t, tt.want, p.Target.EntityVersion, p.Why)
			}
			if tt.from == "" {
				assert.Nil(t, p.Replaced)
			} else {
				require.NotNil(t, p.Replaced)
				assert.Equal(t, tt.from, p.Replaced.Release)
			}
			assert.Contains(t, p.Why, tt.why)
			if tt.resolve != "" {
				assert.Equal(t, tt.resolve, p.Resolves)
			}
		})
	}
}

func TestRenderNotify(t *testing.T) {
	skipped := notify.Report{Event: notify.Event{Kind: notify.DeployStarted, Env: "prod", Release: "v1"}, Results: []notify.Result{
		{Channel: "slack", Status: notify.Skipped, Detail: "set SLACK_WEBHOOK_URL to post to Slack"},
		{Channel: "email", Status: notify.Skipped, Detail: "set SMTP_HOST, NOTIFY_EMAIL_FROM and NOTIFY_EMAIL_TO to send e-mail"},
	}}
	assert.Equal(t, "   notify Deploy started: prod v1: no channel configured (set SLACK_WEBHOOK_URL, SMTP_HOST)\n", renderNotify(skipped))
	sent := skipped
	sent.Results = append([]notify.Result{{Channel: "slack", Status: notify.Sent, Detail: "posted"}}, skipped.Results[1:]...)
	assert.Equal(t, "   notify Deploy started: prod v1\n     slack  sent     posted\n     email  skipped  set SMTP_HOST, NOTIFY_EMAIL_FROM and NOTIFY_EMAIL_TO to send e-mail\n", renderNotify(sent))
}

func TestRollbackTargetValidation(t *testing.T) {
	for _, v := range []string{"1", "12", "400"} {
		assert.True(t, isVersionNumber(v), v)
	}
	for _, v := range []string{"", "0", "v1", "1.0", "-1", "1234567890123"} {
		assert.False(t, isVersionNumber(v), v)
	}
}
