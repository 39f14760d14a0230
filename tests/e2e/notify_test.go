package e2e

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/notify"
)

// Planted secrets: they must reach their servers and nothing else.
const (
	plantedWebhookToken = "xoxb-planted-0a1b2c3d4e5f6789"
	plantedRoutingKey   = "R0UT1NGK3Yplanted9f8e7d6c5b4a"
)

// TestNotifications: a local Slack webhook and PagerDuty events endpoint
// hear a good rollout, an aborted canary and a rollback, with the right
// payloads; the planted webhook token and routing key never appear in any
// output or artifact.
func TestNotifications(t *testing.T) {
	t.Parallel()
	slack, pd, notifyEnv := localNotify(t)

	w := newWorld(t)
	w.toStaging()
	var outputs []string

	good := w.prodRun(notifyEnv)
	require.NoError(t, good.deploy(w.ctx), good.Output())
	outputs = append(outputs, good.Output())

	w.ship("v1.2.0", cd.EnvDev, cd.EnvStaging)
	w.badVersion("3", emulator.Behavior{ErrorRate: 0.2})
	bad := w.prodRun(notifyEnv)
	require.Error(t, bad.deploy(w.ctx))
	outputs = append(outputs, bad.Output())

	rb, err := w.rollback(cd.RollbackTarget{Release: "v1.0.0"}, notifyEnv)
	require.NoError(t, err, rb.Output())
	outputs = append(outputs, rb.Output())

	// Slack: every event, in order, as Block Kit.
	msgs := slack.received()
	var heads []string
	for _, m := range msgs {
		heads = append(heads, m["text"].(string))
	}
	assert.Equal(t, []string{
		"🚀 Deploy started: prod v1.1.0",
		"✅ Deploy succeeded: prod v1.1.0",
		"🚀 Deploy started: prod v1.2.0",
		"🛑 Canary aborted: prod v1.2.0",
		"↩️ Rollback done: prod v1.0.0",
	}, heads)
	text := func(m map[string]any) string {
		var b strings.Builder
		for _, blk := range m["blocks"].([]any) {
			bm := blk.(map[string]any)
			if tx, ok := bm["text"].(map[string]any); ok {
				b.WriteString(tx["text"].(string) + "\n")
			}
			if fs, ok := bm["fields"].([]any); ok {
				for _, f := range fs {
					b.WriteString(f.(map[string]any)["text"].(string) + "\n")
				}
			}
		}
		return b.String()
	}
	require.Len(t, msgs, 5)
	assert.Contains(t, text(msgs[1]), "rolled out to 100% of langgraph-human-interrupt-prod after 3 canary intervals at 10%")
	assert.Contains(t, text(msgs[1]), "*Model version*\n2")
	abort := text(msgs[3])
	assert.Contains(t, abort, "The canary of v1.2.0 was aborted (candidate judged worse): the candidate's share of errors")
	assert.Contains(t, abort, "*Cause*\ncandidate judged worse")
	assert.Contains(t, abort, "langgraph_human_interrupt_model_prod v2 serves 100% again")
	assert.Contains(t, abort, "*Analysis*\nAbort")
	assert.Contains(t, abort, "*Record*\n"+w.prodRecords("deploy")[2].ID)
	assert.Contains(t, text(msgs[4]), "prod rolled back from v1.1.0 to v1.0.0 (model v1); smoke tests passed.")

	// PagerDuty: the good deploy resolves (nothing open), the abort
	// triggers, the rollback resolves the aborted release's incident.
	events := pd.received()
	require.Len(t, events, 3)
	type pdev struct{ action, key string }
	var got []pdev
	for _, e := range events {
		got = append(got, pdev{e["event_action"].(string), e["dedup_key"].(string)})
		assert.Equal(t, plantedRoutingKey, e["routing_key"], "the key reaches its server")
	}
	assert.Equal(t, []pdev{
		{"resolve", "interrupt-agent/prod/v1.1.0"},
		{"trigger", "interrupt-agent/prod/v1.2.0"},
		{"resolve", "interrupt-agent/prod/v1.2.0"},
	}, got)
	payload := events[1]["payload"].(map[string]any)
	assert.Equal(t, "error", payload["severity"])
	assert.Contains(t, payload["summary"], "Canary aborted: prod v1.2.0")

	// The planted secrets appear in no output, no artifact, no message body.
	all := strings.Join(outputs, "\n")
	assert.Contains(t, all, "slack      sent")
	secrets := []string{plantedWebhookToken, plantedRoutingKey, w.srv.Token()}
	for _, s := range secrets {
		assert.NotContains(t, all, s)
		for _, m := range msgs {
			assert.NotContains(t, text(m), s)
		}
	}
	err = filepath.WalkDir(filepath.Join(w.repo.Dir, "artifacts"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			assert.NotContains(t, string(raw), s, "artifact %s", p)
		}
		return nil
	})
	require.NoError(t, err)
}

// localNotify starts a local Slack webhook and PagerDuty events endpoint
// and returns them with the settings that send to them (the planted token
// and routing key).
func localNotify(t *testing.T) (slack, pd *hook, env func(*cd.Options)) {
	t.Helper()
	slack, pd = &hook{}, &hook{}
	slackSrv, pdSrv := httptest.NewServer(slack), httptest.NewServer(pd)
	t.Cleanup(slackSrv.Close)
	t.Cleanup(pdSrv.Close)
	env = withEnv(
		notify.EnvSlackWebhookURL, slackSrv.URL+"/services/T000/B000/"+plantedWebhookToken,
		notify.EnvPagerDutyRoutingKey, plantedRoutingKey,
		notify.EnvPagerDutyEventsURL, pdSrv.URL+"/v2/enqueue",
	)
	return slack, pd, env
}

// TestFailingChannelDoesNotFailTheDeploy: a webhook that refuses is in
// the output, the deploy still succeeds, and the webhook URL is masked.
func TestFailingChannelDoesNotFailTheDeploy(t *testing.T) {
	t.Parallel()
	slack := &hook{status: http.StatusForbidden}
	srv := httptest.NewServer(slack)
	t.Cleanup(srv.Close)
	w := newWorld(t)
	w.repo.Tag("v1.0.0")
	r, err := w.deploy(cd.EnvDev, withEnv(notify.EnvSlackWebhookURL, srv.URL+"/services/T/B/"+plantedWebhookToken))
	require.NoError(t, err, r.Output())
	out := r.Output()
	assert.Contains(t, out, "notify Deploy succeeded: dev v1.0.0")
	assert.Contains(t, out, "slack      failed   slack webhook: HTTP 403 Forbidden")
	assert.Contains(t, out, "pagerduty  skipped  set PAGERDUTY_ROUTING_KEY")
	assert.NotContains(t, out, plantedWebhookToken)
	assert.Len(t, slack.received(), 2, "started and succeeded were both tried")
}
