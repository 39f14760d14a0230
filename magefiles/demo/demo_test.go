package demo

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/insights"
	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// TestDemoTellsTheStory runs the demo in-process with instant state
// machines and checks that the story ended as told: prod back on v1.0.0
// after v1.1.0 rolled out and v1.2.0's canary was aborted, with dev,
// staging and prod in three workspaces, staging and prod training each
// release themselves.
func TestDemoTellsTheStory(t *testing.T) {
	root, err := project.Root()
	require.NoError(t, err)
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{Root: root, Out: &out, Instant: true, Dir: t.TempDir(), ReportDir: t.TempDir()})
	require.NoError(t, err, out.String())

	prod := res.Status[cd.EnvProd]
	require.NotNil(t, prod.Endpoint)
	require.Len(t, prod.Endpoint.ServedEntities, 1)
	assert.Equal(t, "1", prod.Endpoint.ServedEntities[0].EntityVersion, "prod serves v1.0.0's model again")
	for _, env := range []string{cd.EnvDev, cd.EnvStaging} {
		st := res.Status[env]
		require.NotNil(t, st.Endpoint, env)
		assert.Equal(t, "3", st.Endpoint.ServedEntities[0].EntityVersion, "%s serves v1.2.0", env)
	}

	hosts := map[string]bool{}
	for _, env := range cd.Envs {
		hosts[res.Status[env].Host] = true
	}
	assert.Len(t, hosts, 3, "three workspaces")
	for _, r := range res.Journal {
		if r.Kind == release.KindDeploy {
			require.NotNil(t, r.Model.Source, r.Release)
			assert.Equal(t, cd.RouteUCCopy, r.Model.Source.Route, "%s was copied through Unity Catalog", r.Release)
			assert.Equal(t, cd.EnvStaging, r.Model.Source.Env)
		}
	}

	type row struct {
		kind    release.Kind
		release string
		version string
		outcome release.Outcome
	}
	var journal []row
	for _, r := range res.Journal {
		journal = append(journal, row{r.Kind, r.Release, r.Model.Version, r.Outcome})
	}
	assert.Equal(t, []row{
		{release.KindDeploy, "v1.0.0", "1", release.OutcomeVerified},
		{release.KindDeploy, "v1.1.0", "2", release.OutcomeRolledBack},
		{release.KindDeploy, "v1.2.0", "3", release.OutcomeAborted},
		{release.KindRollback, "v1.0.0", "1", release.OutcomeStable},
	}, journal)

	var failed []string
	for _, s := range res.Steps {
		if s.Err != nil {
			failed = append(failed, s.Command)
		}
	}
	assert.Equal(t, []string{"deploy:prod v1.2.0"}, failed, "only the bad canary fails")
	assert.Contains(t, res.Slack, "🛑 Canary aborted: prod v1.2.0")
	assert.Contains(t, res.Slack, "↩️ Rollback done: prod v1.0.0")
	assert.Contains(t, res.Slack, "✅ Deploy succeeded: prod v1.1.0")

	text := out.String()
	for _, want := range []string{
		"── 1. CI", "── 4. v1.2.0: a bad model caught by its canary",
		"minute 5: cand ", "decision: Promote: 5 minutes without evidence against the candidate", "decision: Abort: the candidate's share of errors", "[400 probes, 0 failed]",
		"$ go run mage.go rollback prod -to=v1.0.0 -yes",
		"prod's release journal", "replaced v1.1.0", "Done:", "Three emulated workspaces",
		"staging.human_interrupt_agent.interrupt_agent v2 -> prod.human_interrupt_agent.interrupt_agent v2 @release_v1_1_0",
		"@challenger -> v2", "@champion v2 -> v1",
	} {
		assert.Contains(t, text, want)
	}
	assert.NotContains(t, text, res.Dir+"/artifacts/ci", "no stray paths")
	assert.Equal(t, "1", prod.Aliases["champion"], "@champion follows the rollback")
	assert.NotContains(t, prod.Aliases, "challenger", "no canary runs")
	assert.Greater(t, res.Service, res.Wall, "scaled time: the story stands for more than it took")
}

// TestDemoReportRecomputed: the delivery report the demo ends with holds
// the numbers recomputed here, by hand, from prod's journal: v1.0.0 and
// v1.1.0 reached prod (v1.1.0 later rolled back), v1.2.0's canary was
// aborted, so 2 failures of 3 changes; each restore time is read off the
// records it spans.
func TestDemoReportRecomputed(t *testing.T) {
	root, err := project.Root()
	require.NoError(t, err)
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{Root: root, Out: &out, Instant: true, Dir: t.TempDir(), ReportDir: t.TempDir()})
	require.NoError(t, err, out.String())
	assert.Contains(t, out.String(), "── 7. Delivery report")
	assert.Contains(t, out.String(), "Report: "+res.ReportFiles.HTML)
	page, err := os.ReadFile(res.ReportFiles.HTML)
	require.NoError(t, err)
	assert.Contains(t, string(page), "<svg xmlns=\"http://www.w3.org/2000/svg\"")

	var prod *insights.Environment
	for i := range res.Report.Environments {
		if res.Report.Environments[i].Env == cd.EnvProd {
			prod = &res.Report.Environments[i]
		}
	}
	require.NotNil(t, prod)

	byRelease := map[string]*release.Record{}
	var rollback *release.Record
	for _, r := range res.Journal {
		if r.Kind == release.KindRollback {
			rollback = r
			continue
		}
		byRelease[r.Release] = r
	}
	require.NotNil(t, rollback)
	deployments, failures := 0, 0
	var restores []time.Duration
	for _, r := range res.Journal {
		switch {
		case r.Kind != release.KindDeploy:
		case r.Outcome == release.OutcomeAborted:
			failures++
			restores = append(restores, r.Finished.Sub(r.Stage("canary").Started))
		case r.Outcome == release.OutcomeRolledBack:
			deployments++
			failures++
			restores = append(restores, rollback.Finished.Sub(*r.Finished))
		case r.Good():
			deployments++
		}
	}
	assert.Equal(t, 2, deployments)
	assert.Len(t, prod.Deployments, deployments)
	assert.Len(t, prod.Failures, failures)
	require.NotNil(t, prod.FailureRate)
	assert.InDelta(t, float64(failures)/float64(deployments+1), *prod.FailureRate, 1e-9, "the aborted canary is a change too")
	require.Len(t, restores, 2)
	require.NotNil(t, prod.Restore)
	assert.Equal(t, (restores[0]+restores[1])/2, time.Duration(*prod.Restore), "median of two")
}

func TestDemoRefusesBadOptions(t *testing.T) {
	_, err := Run(context.Background(), Options{})
	assert.ErrorContains(t, err, "no project root")
	_, err = Run(context.Background(), Options{Root: ".", TimeScale: -1})
	assert.ErrorContains(t, err, "must not be negative")
}

func TestCILine(t *testing.T) {
	dir := t.TempDir()
	assert.Contains(t, ciLine(dir), "skipped here")
	// The report as the runner writes it, so the two cannot drift apart.
	rep := &pipeline.Report{Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Passed: false, Results: []pipeline.Result{
		{Name: "gofmt", Status: pipeline.StatusPass}, {Name: "mypy", Status: pipeline.StatusCached},
		{Name: "pylint", Status: pipeline.StatusCached}, {Name: "gosec", Status: pipeline.StatusFail},
		{Name: "bundle", Status: pipeline.StatusBlocked},
	}}
	require.NoError(t, rep.WriteJSON(dir+"/artifacts/ci-report.json"))
	line := ciLine(dir)
	assert.True(t, strings.Contains(line, "FAILED, 5 checks (1 passed, 2 cached, 1 failed, 1 blocked)"), line)
}
