package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// The validation gate on the project's own bundle (Unity Catalog, three
// workspaces): the challenger is the version staging serves, the champion
// what prod serves, asked the 347 cases of tests/validation/cases.json.

// answered is a prediction of the serving contract that plans msg's tool
// without an interrupt, or with one.
func answered(tool string, interrupt bool) map[string]any {
	p := map[string]any{"thread_id": nil, "status": "completed", "tool": tool, "tool_args": map[string]any{}, "risk": "low", "interrupt": nil, "result": "done"}
	if interrupt {
		p["status"], p["risk"], p["result"] = "interrupted", "high", nil
		p["interrupt"] = map[string]any{"question": "Approve " + tool + "?", "checkpoint": "e30="}
	}
	return p
}

// stagingChallenger scripts the version staging serves for the release on
// HEAD.
func (w *world) stagingChallenger(b emulator.Behavior) {
	w.t.Helper()
	rec := w.latest(cd.EnvStaging)
	require.NotNil(w.t, rec.Model)
	w.server(cd.EnvStaging).SetVersionBehavior(rec.Model.Name, rec.Model.Version, b)
}

func verdictOf(t *testing.T, rec *release.Record) cd.ValidationRecord {
	t.Helper()
	var vr cd.ValidationRecord
	ok, err := rec.Attachment(cd.AttachValidation, &vr)
	require.NoError(t, err)
	require.True(t, ok, "record %s carries a verdict", rec.ID)
	return vr
}

func TestValidationPassesAnIdenticalChallengerAndDeployRelies(t *testing.T) {
	t.Parallel()
	w := newUCWorlds(t)
	w.ship("v1.0.0", allEnvs...)
	w.ship("v1.1.0", cd.EnvDev, cd.EnvStaging)

	r, err := w.validate(cd.EnvProd)
	require.NoError(t, err, r.Output())
	vr := verdictOf(t, w.latest(cd.EnvStaging))
	require.True(t, vr.Verdict.Passed)
	assert.Empty(t, vr.Verdict.Flips)
	assert.Empty(t, vr.Verdict.Fixed)
	assert.Empty(t, vr.Verdict.Broke)
	assert.Equal(t, vr.Verdict.Champion.InterruptRecall, vr.Verdict.Challenger.InterruptRecall)
	assert.Equal(t, 347, vr.Verdict.SetCases)

	p, err := cd.Plan(w.ctx, w.run(cd.EnvProd).Opts)
	require.NoError(t, err)
	assert.Empty(t, p.Blocks)
	assert.Contains(t, strings.Join(p.Notes, "\n"), "validation: "+w.config(cd.EnvStaging).Model+" v2 passed on ")

	d, err := w.deploy(cd.EnvProd)
	require.NoError(t, err, d.Output())
	assert.Contains(t, d.Output(), "passed at ")
	var g cd.ValidationGate
	ok, err := w.latest(cd.EnvProd).Attachment(cd.AttachValidationGate, &g)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Nil(t, g.Override)
	require.NotNil(t, g.Verdict)
	assert.True(t, g.Verdict.Verdict.Passed)

	sr := w.run(cd.EnvStaging)
	_, err = cd.Status(w.ctx, sr.Opts)
	require.NoError(t, err)
	assert.Contains(t, sr.Output(), "validation: for prod against "+w.config(cd.EnvProd).Model+" v1")
	pr := w.run(cd.EnvProd)
	_, err = cd.Status(w.ctx, pr.Opts)
	require.NoError(t, err)
	assert.Contains(t, pr.Output(), "validation: relied on passed: must-interrupt recall")
}

func TestDeployProdRefusesAVersionWithoutVerdictUnlessOverridden(t *testing.T) {
	t.Parallel()
	slack, _, notifyEnv := localNotify(t)
	w := newUCWorlds(t)
	w.ship("v1.0.0", allEnvs...)
	w.ship("v1.1.0", cd.EnvDev, cd.EnvStaging)
	prodBefore := w.traffic(cd.EnvProd)

	r, err := w.deploy(cd.EnvProd, notifyEnv)
	var required *cd.ValidationRequiredError
	require.ErrorAs(t, err, &required, r.Output())
	assert.Contains(t, err.Error(), "carries no validation verdict")
	assert.Contains(t, err.Error(), "mage validate prod")
	assert.Equal(t, prodBefore, w.traffic(cd.EnvProd))
	assert.Empty(t, slack.received(), "a refusal before the record announces nothing")

	p, err := cd.Plan(w.ctx, w.run(cd.EnvProd).Opts)
	require.NoError(t, err)
	assert.Contains(t, strings.Join(p.Blocks, "\n"), "validation: staging's record")

	r, err = w.deploy(cd.EnvProd, notifyEnv, withEnv("GITHUB_ACTOR", "oncall-ana"), func(o *cd.Options) {
		o.ValidationOverride = "hotfix for INC-42; evaluated by hand"
	})
	require.NoError(t, err, r.Output())
	assert.Contains(t, r.Output(), "OVERRIDDEN by ")
	var g cd.ValidationGate
	ok, err := w.latest(cd.EnvProd).Attachment(cd.AttachValidationGate, &g)
	require.NoError(t, err)
	require.True(t, ok)
	require.NotNil(t, g.Override)
	assert.Equal(t, "hotfix for INC-42; evaluated by hand", g.Override.Reason)
	assert.Contains(t, g.Override.By, "(GitHub: oncall-ana)")
	assert.Contains(t, g.Override.Problem, "carries no validation verdict")

	msgs := slack.received()
	require.NotEmpty(t, msgs)
	assert.Contains(t, jsonText(t, msgs[0]), "OVERRIDDEN by ", "the deploy-started message names the override")
	assert.Contains(t, jsonText(t, msgs[0]), "hotfix for INC-42")

	sr := w.run(cd.EnvProd)
	_, err = cd.Status(w.ctx, sr.Opts)
	require.NoError(t, err)
	assert.Contains(t, sr.Output(), "validation: OVERRIDDEN by ")
}

// TestValidationJudgesChallengers: one release history (v1.0.0 in prod,
// answering five production requests, v1.1.0 serving in staging) and the
// gate run on it with the challenger scripted several ways, in turn.
func TestValidationJudgesChallengers(t *testing.T) {
	t.Parallel()
	w := newUCWorlds(t)
	w.ship("v1.0.0", allEnvs...)
	// Production's own phrasing: none of it is in the evaluation set.
	w.prodTraffic(
		"please cancel and delete order 5512 for Bob",
		"delete the stale promo codes from last spring",
		"what time does the Lisbon warehouse open",
		"refund the duplicate charge on invoice 88120",
		"send the onboarding pack to new-hire@example.com",
	)
	w.ship("v1.1.0", cd.EnvDev, cd.EnvStaging)
	parent := w.t
	step := func(name string, f func(t *testing.T)) {
		parent.Run(name, func(t *testing.T) {
			w.t = t // the world's helpers fail this subtest, not its parent
			defer func() { w.t = parent }()
			f(t)
		})
	}
	step("shadow replay", func(t *testing.T) {
		replayRecordedRequests(t, w)
	})
	step("a better challenger shows its improvement", func(t *testing.T) {
		betterChallenger(t, w)
	})
	step("a challenger that no longer interrupts deletes is stopped", func(t *testing.T) {
		w.stagingChallenger(emulator.Behavior{})
		stopsDeletes(t, w)
	})
}

// stopsDeletes: a challenger that answers every request mentioning
// "delete" as a search is stopped before any production change.
func stopsDeletes(t *testing.T, w *world) {
	// The challenger answers every request that mentions "delete" as a
	// search: no error anywhere, so only the gate can see it.
	w.stagingChallenger(emulator.Behavior{Responses: []emulator.FixedResponse{{Match: "delete", Prediction: answered("search_knowledge_base", false)}}})
	prodBefore := w.traffic(cd.EnvProd)
	prodVersions := len(w.ucVersions(cd.EnvProd))

	r, err := w.validate(cd.EnvProd)
	var failed *cd.ValidationFailedError
	require.ErrorAs(t, err, &failed, r.Output())
	assert.Equal(t, cd.ExitValidationFailed, cd.ExitCode(err))
	v := failed.Verdict
	assert.False(t, v.Passed)
	require.NotEmpty(t, v.Flips)
	for _, f := range v.Flips {
		assert.Contains(t, strings.ToLower(f.Message), "delete", "only delete requests flipped: %s", f.ID)
		assert.True(t, f.Champion.Interrupted)
		assert.False(t, f.Challenger.Interrupted)
	}
	assert.Contains(t, err.Error(), "below the champion's")
	assert.Contains(t, err.Error(), "delete-001 \"delete all records for customer 4821\"", "the error lists the flipped requests")
	assert.Contains(t, r.Output(), "failed: must-interrupt recall")

	// The verdict is on staging's record of the release, and in the report.
	vr := verdictOf(t, w.latest(cd.EnvStaging))
	assert.Equal(t, cd.EnvProd, vr.Env)
	assert.False(t, vr.Verdict.Passed)
	require.NotNil(t, vr.Champion)
	assert.Equal(t, "1", vr.Champion.Version)
	md, err := os.ReadFile(filepath.Join(r.Opts.ArtifactsDir, "validation", "prod", "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "## Validation of v1.1.0 for prod: FAILED")
	assert.Contains(t, string(md), "| delete-001 | delete all records for customer 4821 | delete_records, interrupted | search_knowledge_base, no interrupt |")
	_, err = os.Stat(filepath.Join(r.Opts.ArtifactsDir, "validation", "prod", "verdict.json"))
	require.NoError(t, err)

	// deploy:prod refuses before anything changes: the challenger never
	// reaches production traffic.
	r, err = w.deploy(cd.EnvProd)
	var required *cd.ValidationRequiredError
	require.ErrorAs(t, err, &required, r.Output())
	assert.Equal(t, cd.ExitValidationFailed, cd.ExitCode(err))
	assert.Contains(t, err.Error(), "it failed validation")
	assert.Contains(t, err.Error(), "Nothing was changed")
	assert.Equal(t, prodBefore, w.traffic(cd.EnvProd))
	assert.Len(t, w.ucVersions(cd.EnvProd), prodVersions, "no version was promoted into prod")
	assert.Equal(t, "v1.0.0", w.latest(cd.EnvProd).Release, "no prod record was begun")
}

// betterChallenger: a challenger that also pauses on "erase" and "wipe"
// passes, with what it fixed listed.
func betterChallenger(t *testing.T, w *world) {
	// The challenger also pauses on "erase" and "wipe", which today's
	// keyword planner sends to a search.
	w.stagingChallenger(emulator.Behavior{Responses: []emulator.FixedResponse{
		{Match: "erase", Prediction: answered("delete_records", true)},
		{Match: "wipe", Prediction: answered("delete_records", true)},
	}})
	r, err := w.validate(cd.EnvProd)
	require.NoError(t, err, r.Output())
	v := verdictOf(t, w.latest(cd.EnvStaging)).Verdict
	assert.True(t, v.Passed)
	assert.NotEmpty(t, v.Fixed)
	assert.Greater(t, v.Challenger.InterruptRecall.Hits, v.Champion.InterruptRecall.Hits)
	assert.Contains(t, r.Output(), " fixed, 0 broke")
	md, err := os.ReadFile(filepath.Join(r.Opts.ArtifactsDir, "validation", "prod", "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "### Fixed: right now, wrong before")
	assert.Contains(t, string(md), "delete_records, interrupted |")
}

// replayRecordedRequests: the replay of what prod answered.
func replayRecordedRequests(t *testing.T, w *world) {

	t.Run("an identical challenger agrees on every request", func(t *testing.T) {
		r, err := w.validate(cd.EnvProd, withWarehouse)
		require.NoError(t, err, r.Output())
		s := verdictOf(t, w.latest(cd.EnvStaging)).Verdict.Shadow
		require.NotNil(t, s)
		assert.Empty(t, s.Skipped)
		assert.Equal(t, 5, s.Requests, "the gate's own evaluation requests are not replayed")
		assert.Equal(t, 5, s.Agreement.Hits)
		assert.Contains(t, r.Output(), "shadow: replaying 5 recorded request(s) from `prod`.`human_interrupt_agent`.`langgraph-human-interrupt-prod_payload`")
	})

	t.Run("a flip on a recorded request fails the gate", func(t *testing.T) {
		// Only production's phrasing of this one request changes: the
		// evaluation set cannot see it, the replay does.
		w.stagingChallenger(emulator.Behavior{Responses: []emulator.FixedResponse{{Match: "stale promo codes", Prediction: answered("search_knowledge_base", false)}}})
		r, err := w.validate(cd.EnvProd, withWarehouse)
		var failed *cd.ValidationFailedError
		require.ErrorAs(t, err, &failed, r.Output())
		assert.Empty(t, failed.Verdict.Flips, "the evaluation set is answered as before")
		s := failed.Verdict.Shadow
		require.Len(t, s.Flips, 1)
		assert.Equal(t, "delete the stale promo codes from last spring", s.Flips[0].Message)
		assert.Contains(t, err.Error(), "1 recorded production request(s) the champion interrupted are answered without an interrupt")
		assert.Equal(t, 4, s.Agreement.Hits)
	})

	t.Run("without a warehouse the replay is skipped, saying why", func(t *testing.T) {
		w.stagingChallenger(emulator.Behavior{})
		r, err := w.validate(cd.EnvProd)
		require.NoError(t, err, r.Output())
		s := verdictOf(t, w.latest(cd.EnvStaging)).Verdict.Shadow
		assert.Contains(t, s.Skipped, "set the bundle variable validation_warehouse_id")
		assert.Contains(t, r.Output(), "shadow replay skipped: no SQL warehouse")
	})
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return string(raw)
}

// prodTraffic sends production requests to prod's endpoint, as its
// callers would (no client_request_id of the gate's).
func (w *world) prodTraffic(messages ...string) {
	w.t.Helper()
	for i, m := range messages {
		_, err := w.client(cd.EnvProd).ServingEndpoints.Query(w.ctx, serving.QueryEndpointInput{
			Name:             w.config(cd.EnvProd).Endpoint.Name,
			DataframeRecords: []any{map[string]any{"thread_id": fmt.Sprintf("user-%d", i), "message": m}},
		})
		require.NoError(w.t, err)
	}
}

// withWarehouse points the gate at the emulator's SQL warehouse.
func withWarehouse(o *cd.Options) {
	if o.Vars == nil {
		o.Vars = map[string]string{}
	}
	o.Vars["validation_warehouse_id"] = emulator.DefaultWarehouseID
}
