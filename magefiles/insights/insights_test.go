package insights

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

var day0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func at(days int, hm string) time.Time {
	t, _ := time.Parse("15:04", hm)
	return day0.AddDate(0, 0, days).Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute)
}

func rec(id, tag string, kind release.Kind, outcome release.Outcome, start, end time.Time, stages ...release.StageResult) *release.Record {
	r := &release.Record{ID: id, Env: "prod", Kind: kind, Release: tag, Outcome: outcome, Started: start, Finished: &end, Stages: stages}
	return r
}

// history is a prod journal: v1.0.0 stable; v1.1.0's canary aborted after
// 20 minutes; v1.2.0 stable, then rolled back an hour later; v1.2.1 stable.
func history(t *testing.T) Input {
	t.Helper()
	aborted := rec("r2", "v1.1.0", release.KindDeploy, release.OutcomeAborted, at(2, "10:00"), at(2, "10:30"),
		release.StageResult{Name: "canary", Status: release.StageOK, Started: at(2, "10:10"), DurationMS: 60000})
	require.NoError(t, aborted.Attach("abort", map[string]string{"why": "candidate judged worse"}))
	rollback := rec("r4", "v1.0.0", release.KindRollback, release.OutcomeStable, at(4, "13:00"), at(4, "13:20"))
	require.NoError(t, rollback.Attach("rollback", map[string]string{"from_record": "r3"}))
	return Input{
		Records: map[string][]*release.Record{"prod": {
			rec("r1", "v1.0.0", release.KindDeploy, release.OutcomeStable, at(0, "09:00"), at(0, "10:00"),
				release.StageResult{Name: "analysis", Status: release.StageSkipped}, release.StageResult{Name: "backup", Status: release.StageOK, DurationMS: 2000}),
			aborted,
			rec("r3", "v1.2.0", release.KindDeploy, release.OutcomeRolledBack, at(4, "11:00"), at(4, "12:20"),
				release.StageResult{Name: "analysis", Status: release.StageOK}, release.StageResult{Name: "backup", Status: release.StageOK, DurationMS: 4000}),
			rollback,
			rec("r5", "v1.2.1", release.KindDeploy, release.OutcomeStable, at(5, "09:00"), at(5, "10:00"),
				release.StageResult{Name: "analysis", Status: release.StageOK}),
		}},
		FirstCommit: map[string]time.Time{
			"v1.0.0": at(-1, "09:00"), // 25 h before its deployment
			"v1.1.0": at(1, "09:00"),
			"v1.2.0": at(3, "12:20"), // 24 h
			"v1.2.1": at(4, "22:00"), // 12 h
		},
		Since: at(0, "00:00"), Until: at(14, "00:00"),
	}
}

// TestComputeFromAJournal recomputes each measure by hand from the journal
// above.
func TestComputeFromAJournal(t *testing.T) {
	r := Compute(history(t))
	require.Len(t, r.Environments, 1)
	e := r.Environments[0]

	// Deployments: v1.0.0, v1.2.0 (it served before it was rolled back),
	// v1.2.1; the aborted canary never took the traffic.
	var deployed []string
	for _, d := range e.Deployments {
		deployed = append(deployed, d.Release)
	}
	assert.Equal(t, []string{"v1.0.0", "v1.2.0", "v1.2.1"}, deployed)
	require.NotNil(t, e.PerWeek)
	assert.InDelta(t, 3.0/2.0, *e.PerWeek, 1e-9, "3 deployments in 14 days")
	assert.Equal(t, High, e.Bands.Frequency, "between once a week and once a day")

	// Lead times 25 h, 24 h, 12 h: median 24 h.
	require.NotNil(t, e.LeadTime)
	assert.Equal(t, 24*time.Hour, time.Duration(*e.LeadTime))
	assert.Equal(t, High, e.Bands.LeadTime)

	// Failures: the aborted canary (restored at its end, 20 minutes after
	// the canary started) and v1.2.0 (restored by the rollback, 60 minutes
	// after it reached 100%). Changes: 3 deployments + 1 aborted canary.
	require.Len(t, e.Failures, 2)
	assert.Equal(t, KindAborted, e.Failures[0].Kind)
	assert.Equal(t, 20*time.Minute, time.Duration(*e.Failures[0].Restore))
	assert.Equal(t, KindRolledBack, e.Failures[1].Kind)
	assert.Equal(t, time.Hour, time.Duration(*e.Failures[1].Restore))
	assert.Equal(t, 4, e.Changes)
	require.NotNil(t, e.FailureRate)
	assert.InDelta(t, 0.5, *e.FailureRate, 1e-9)
	assert.Equal(t, Low, e.Bands.FailureRate, "50% is nearest the low level's 40%")
	require.NotNil(t, e.Restore)
	assert.Equal(t, 40*time.Minute, time.Duration(*e.Restore), "median of 20 and 60 minutes")
	assert.Equal(t, Elite, e.Bands.Restore)

	assert.Equal(t, map[string]int{"promoted": 2, "aborted: candidate judged worse": 1}, e.Canary)
	assert.Equal(t, Duration(3*time.Second), e.StageMeans["backup"], "mean of 2 s and 4 s")
}

func TestEmptyHistoryReportsNoValues(t *testing.T) {
	r := Compute(Input{Records: map[string][]*release.Record{"prod": nil}, Since: day0, Until: day0.AddDate(0, 0, 90),
		Unread: map[string]string{"dev": "no Databricks credentials for target dev"}})
	e := r.Environments[0]
	assert.Nil(t, e.PerWeek)
	assert.Nil(t, e.LeadTime)
	assert.Nil(t, e.FailureRate)
	assert.Nil(t, e.Restore)
	assert.Equal(t, Bands{}, e.Bands)
	var md strings.Builder
	Markdown(&md, r)
	assert.Contains(t, md.String(), "| deployment frequency | no deployment in the window | - |")
	assert.Contains(t, md.String(), "| change failure rate | no change reached traffic | - |")
	assert.Contains(t, md.String(), "- dev not read: no Databricks credentials for target dev")
	assert.NotContains(t, md.String(), "0%")
}

func TestBandsOfEachMeasure(t *testing.T) {
	rate := func(v float64) Environment { return Environment{FailureRate: &v} }
	for _, tc := range []struct {
		rate float64
		want Band
	}{{0, Elite}, {0.05, Elite}, {0.075, Elite}, {0.12, Medium}, {0.16, High}, {0.30, High}, {0.31, Low}, {1, Low}} {
		assert.Equal(t, tc.want, bandsOf(rate(tc.rate)).FailureRate, "%v", tc.rate)
	}
	perWeek := func(v float64) Environment { return Environment{PerWeek: &v} }
	assert.Equal(t, Elite, bandsOf(perWeek(10)).Frequency)
	assert.Equal(t, High, bandsOf(perWeek(1)).Frequency)
	assert.Equal(t, Medium, bandsOf(perWeek(0.5)).Frequency)
	assert.Equal(t, Low, bandsOf(perWeek(0.1)).Frequency)
	restore := func(d time.Duration) Environment { return Environment{Restore: dur(d)} }
	assert.Equal(t, Elite, bandsOf(restore(59*time.Minute)).Restore)
	assert.Equal(t, High, bandsOf(restore(23*time.Hour)).Restore)
	assert.Equal(t, Low, bandsOf(restore(48*time.Hour)).Restore)
}

// TestRenderWritesChartsABrowserDraws: the page's charts are well-formed
// SVG (each parses as XML with the SVG namespace and holds a bar per
// value), the page needs nothing from the network, and the JSON and the
// Markdown carry the same numbers.
func TestRenderWritesChartsABrowserDraws(t *testing.T) {
	dir := t.TempDir()
	files, err := Render(Compute(history(t)), dir)
	require.NoError(t, err)
	page, err := os.ReadFile(files.HTML)
	require.NoError(t, err)
	svgs := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(string(page), -1)
	require.Len(t, svgs, 2, "lead times and restore times")
	for _, svg := range svgs {
		dec := xml.NewDecoder(strings.NewReader(svg))
		root := ""
		rects := 0
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err, svg)
			if se, ok := tok.(xml.StartElement); ok {
				if root == "" {
					root = se.Name.Space + " " + se.Name.Local
				}
				if se.Name.Local == "rect" {
					rects++
				}
			}
		}
		assert.Equal(t, "http://www.w3.org/2000/svg svg", root)
		assert.Positive(t, rects)
	}
	assert.NotRegexp(t, `(?i)(src|href)="https?://`, string(page), "nothing fetched")
	assert.Contains(t, string(page), "<td>change failure rate</td><td>50% (2 of 4)</td><td>low</td>")

	var back map[string]any
	raw, err := os.ReadFile(files.JSON)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &back))
	envs := back["environments"].([]any)
	assert.Equal(t, 0.5, envs[0].(map[string]any)["change_failure_rate"])
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| time to restore service | median 40m0s | elite |")
	assert.Contains(t, string(md), "Mean stage durations: canary 1m0s, backup 3s, analysis 0s.")
}
