package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/agentmodel"
	"github.com/hitl-mlops/interrupt-agent/magefiles/servingmetrics"
)

var update = flag.Bool("update", false, "rewrite golden files")

func runOptions(t testing.TB, mutate func(*Options)) Options {
	o := Options{
		Env:      "dev",
		Endpoint: testEndpoint,
		Cases:    loadRepoCases(t),
		Load: &LoadConfig{
			Concurrency: 2, Duration: time.Minute, MaxRequests: 20,
			Thresholds: Thresholds{MaxP95: time.Minute, MaxErrorRate: 0},
		},
		Metrics:      &MetricsConfig{},
		ArtifactsDir: t.TempDir(),
	}
	if mutate != nil {
		mutate(&o)
	}
	return o
}

func readJUnit(t *testing.T, dir, env string) junitSuites {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "verify", env, "junit.xml"))
	require.NoError(t, err)
	var got junitSuites
	require.NoError(t, xml.Unmarshal(data, &got), "junit.xml is well-formed")
	return got
}

func readSummary(t *testing.T, dir, env string) Summary {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "verify", env, "summary.json"))
	require.NoError(t, err)
	assert.NotContains(t, string(data), `\u003c`, "limits stay readable")
	var got Summary
	require.NoError(t, json.Unmarshal(data, &got))
	return got
}

func TestRunPasses(t *testing.T) {
	f, w := newFakeServing(t, faults{})
	opts := runOptions(t, nil)

	rep, err := Run(context.Background(), w.ServingEndpoints, opts)
	require.NoError(t, err)
	require.True(t, rep.Passed, "%v", rep.Failures)

	invocations, _, _ := f.stats()
	assert.Equal(t, invocations, rep.Metrics.Sent, "the metrics check expects every request sent")
	assert.Equal(t, float64(invocations), rep.Metrics.Requests)
	assert.Equal(t, 20, rep.Load.Sent)

	ju := readJUnit(t, opts.ArtifactsDir, "dev")
	assert.Equal(t, "verify:dev", ju.Name)
	require.Len(t, ju.Suites, 3)
	assert.Equal(t, "verify:dev integration", ju.Suites[0].Name)
	assert.Equal(t, len(opts.Cases), ju.Suites[0].Tests)
	assert.Equal(t, len(opts.Cases)+2+2, ju.Tests, "cases, two load thresholds, two metrics checks")
	assert.Zero(t, ju.Failures)

	sum := readSummary(t, opts.ArtifactsDir, "dev")
	assert.True(t, sum.Passed)
	assert.Empty(t, sum.Failures)
	assert.Equal(t, len(opts.Cases), sum.Suite.Passed)
	require.NotNil(t, sum.Load)
	assert.Equal(t, 20, sum.Load.Sent)
	assert.Equal(t, map[string]int{"agent-1": 20}, sum.Load.ServedModels)
	require.NotNil(t, sum.Metrics)
	assert.Equal(t, invocations, sum.Metrics.Sent)
	assert.Equal(t, float64(invocations), sum.Metrics.Entities["agent-1"].Requests, "summary.json round-trips")
	assert.Equal(t, rep.Metrics.Checks, sum.Metrics.Checks)

	var out bytes.Buffer
	require.NoError(t, rep.Render(&out, false))
	assert.Contains(t, out.String(), "verify:dev passed")
}

func TestRunSmokeRunsOnlySmokeCases(t *testing.T) {
	_, w := newFakeServing(t, faults{})
	opts := runOptions(t, func(o *Options) { o.Smoke, o.Load, o.Metrics = true, nil, nil })
	rep, err := Run(context.Background(), w.ServingEndpoints, opts)
	require.NoError(t, err)
	assert.Equal(t, "smoke", rep.Suite.Name)
	assert.Len(t, rep.Suite.Cases, len(SmokeCases(opts.Cases)))
	assert.Equal(t, "not requested", rep.LoadSkipped)
	assert.Equal(t, "not requested", rep.MetricsSkipped)

	ju := readJUnit(t, opts.ArtifactsDir, "dev")
	assert.Equal(t, "verify:dev smoke", ju.Suites[0].Name)
	assert.Equal(t, 2, ju.Skipped, "load and metrics show as skipped, not absent")
}

func TestRunFailuresAreNamed(t *testing.T) {
	tests := []struct {
		name   string
		server faults
		mutate func(*Options)
		want   []string
	}{
		{
			name: "wrong status",
			server: faults{mutate: func(p agentmodel.Prediction) agentmodel.Prediction {
				if p.Status == "rejected" {
					p.Status = "completed"
				}
				return p
			}},
			want: []string{
				`integration: 1 of 9 cases failed, first "refund is interrupted and reject is rejected": resume reject: status "completed", want "rejected"`,
			},
		},
		{
			name:   "5xx under load fails the load and the metrics",
			server: faults{failEvery: 10, failStatus: 500},
			mutate: func(o *Options) { o.Cases = o.Cases[:1] },
			want:   []string{"load: error rate", "metrics: metrics export shows 2 new 5xx responses"},
		},
		{
			name:   "slow endpoint misses p95",
			server: faults{latency: 15 * time.Millisecond},
			mutate: func(o *Options) {
				o.Cases, o.Load.MaxRequests, o.Load.Thresholds.MaxP95 = o.Cases[:1], 4, 5*time.Millisecond
			},
			want: []string{"load: p95 latency", "over 5.00ms"},
		},
		{
			name:   "metrics export unreadable",
			server: faults{metricsFail: 403},
			want:   []string{"metrics: before the traffic: read metrics export of agent-dev: HTTP 403"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, w := newFakeServing(t, tt.server)
			opts := runOptions(t, tt.mutate)
			rep, err := Run(context.Background(), w.ServingEndpoints, opts)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrFailed), err)
			assert.Contains(t, err.Error(), "verify dev (endpoint agent-dev) failed")
			for _, want := range tt.want {
				assert.Contains(t, err.Error(), want)
			}
			require.NotNil(t, rep)
			assert.False(t, rep.Passed)

			// The artifacts are written on failure too.
			ju := readJUnit(t, opts.ArtifactsDir, "dev")
			assert.Positive(t, ju.Failures)
			sum := readSummary(t, opts.ArtifactsDir, "dev")
			assert.False(t, sum.Passed)
			assert.Equal(t, rep.Failures, sum.Failures)

			var out bytes.Buffer
			require.NoError(t, rep.Render(&out, false))
			assert.Contains(t, out.String(), "verify:dev FAILED")
		})
	}
}

func TestRunCancelledIsNotAVerificationFailure(t *testing.T) {
	f, w := newFakeServing(t, faults{block: true})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-f.arrived
		cancel()
	}()
	opts := runOptions(t, nil)
	rep, err := Run(ctx, w.ServingEndpoints, opts)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), err)
	assert.False(t, errors.Is(err, ErrFailed))
	require.NotNil(t, rep)
	assert.False(t, rep.Passed)
	assert.Equal(t, "cancelled", rep.LoadSkipped)
	assert.Equal(t, "cancelled", rep.MetricsSkipped)
	readJUnit(t, opts.ArtifactsDir, "dev")
}

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"unknown env shape", func(o *Options) { o.Env = "../prod" }, `environment "../prod"`},
		{"no endpoint", func(o *Options) { o.Endpoint = "" }, "endpoint name is empty"},
		{"no cases", func(o *Options) { o.Cases = nil }, "cases: no cases"},
		{"smoke without smoke cases", func(o *Options) {
			o.Smoke = true
			o.Cases = []Case{{Name: "x", Request: map[string]any{"message": "hi"}, Expect: Expect{Status: StatusCompleted}}}
		}, "no case is marked smoke"},
		{"load without a cap", func(o *Options) { o.Load.MaxRequests = 0 }, "max requests 0"},
		{"negative settle", func(o *Options) { o.Metrics.Settle = -time.Second }, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(context.Background(), nil, runOptions(t, tt.mutate))
			require.Error(t, err)
			assert.Nil(t, rep)
			assert.False(t, errors.Is(err, ErrFailed))
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseCasesRejectsBadFiles(t *testing.T) {
	tests := []struct {
		name string
		json string
		want []string
	}{
		{"not json", `{`, []string{"decode"}},
		{"typo in a field", `{"cases":[{"name":"a","request":{"message":"x"},"expect":{"status":"completed","interupt":true}}]}`, []string{`unknown field "interupt"`}},
		{"empty", `{"cases":[]}`, []string{"no cases"}},
		{
			"every problem is listed",
			`{"cases":[
				{"name":"a","request":{"message":"x"},"expect":{"status":"done"}},
				{"name":"a","request":{},"expect":{"status":"completed"}},
				{"name":"","request":{"message":"x"},"expect":{"status":"completed"},
				 "resume":{"decision":"","expect":{"status":"finished"}}}
			]}`,
			[]string{
				`cases[0] "a": expect.status "done" is not one of`,
				`cases[1] "a": name repeats cases[0]`,
				`cases[1] "a": request is empty`,
				`cases[2]: name is empty`,
				`cases[2]: resume needs expect.interrupt true`,
				`cases[2]: resume.decision is empty`,
				`cases[2]: resume.expect.status "finished"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCases([]byte(tt.json))
			require.Error(t, err)
			for _, want := range tt.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestLoadCasesFixture(t *testing.T) {
	cases, err := LoadCases(filepath.Join("testdata", "cases.json"))
	require.NoError(t, err)
	assert.Len(t, SmokeCases(cases), 2)
	assert.Len(t, FirstRequests(cases), len(cases))

	_, err = LoadCases(filepath.Join("testdata", "missing.json"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "load integration cases")
}

// fixedReport is a report with every part filled and nothing time-dependent,
// for the golden rendering.
func fixedReport() *Report {
	return &Report{
		Env: "staging", Endpoint: "agent-staging", Duration: 1500 * time.Millisecond,
		Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Suite: SuiteResult{Name: "integration", Duration: 120 * time.Millisecond, Cases: []CaseResult{
			{Name: "low-risk question completes", Outcome: Pass, Duration: 12 * time.Millisecond, Statuses: []string{"completed"}},
			{Name: "delete then approve", Outcome: Fail, Duration: 30 * time.Millisecond, Statuses: []string{"interrupted", "error"}, Message: `resume approve: status "error", want "completed" (result "invalid checkpoint")`},
			{Name: "refund", Outcome: Skip, Message: "cancelled: context canceled"},
		}},
		Load: &LoadResult{
			Config:     LoadConfig{Concurrency: 4, Duration: 30 * time.Second, MaxRequests: 500, Thresholds: Thresholds{MaxP95: 500 * time.Millisecond, MaxErrorRate: 0.01, MinRPS: 5}},
			StopReason: StopCap, Sent: 500, Succeeded: 490, Errors: 10, Answered: 500,
			ErrorsByKind: map[string]int{"HTTP 500": 10}, ServedModels: map[string]int{"agent-3": 400, "agent-4": 90},
			Elapsed: 20 * time.Second, P50: 40 * time.Millisecond, P95: 180 * time.Millisecond, P99: 420 * time.Millisecond, Max: 900 * time.Millisecond,
			RPS: 24.5, ErrorRate: 0.02,
			Checks: judgeLoad(LoadResult{Succeeded: 490, Errors: 10, ErrorRate: 0.02, P95: 180 * time.Millisecond, RPS: 24.5, ErrorsByKind: map[string]int{"HTTP 500": 10}},
				Thresholds{MaxP95: 500 * time.Millisecond, MaxErrorRate: 0.01, MinRPS: 5}),
		},
		Metrics: func() *MetricsResult {
			start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
			m := CheckMetrics([]servingmetrics.Window{{Start: start, End: start.Add(time.Minute),
				Entities: map[string]servingmetrics.Values{"agent-3": {Requests: 505, Errors5xx: 10}}}}, nil, start, 505)
			m.Endpoint, m.Reads = "agent-staging", 1
			return &m
		}(),
	}
}

func TestRenderGolden(t *testing.T) {
	rep := fixedReport()
	rep.Failures = rep.failures()
	var out bytes.Buffer
	require.NoError(t, rep.Render(&out, false))
	golden := filepath.Join("testdata", "render.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, out.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), out.String())

	var colored bytes.Buffer
	require.NoError(t, rep.Render(&colored, true))
	assert.Contains(t, colored.String(), "\x1b[", "colors when asked")
	assert.NotContains(t, out.String(), "\x1b[", "no colors otherwise")
}

func TestJUnitRoundTrip(t *testing.T) {
	rep := fixedReport()
	rep.Failures = rep.failures()
	data, err := rep.JUnit()
	require.NoError(t, err)
	var got junitSuites
	require.NoError(t, xml.Unmarshal(data, &got))

	require.Len(t, got.Suites, 3)
	cases := got.Suites[0]
	assert.Equal(t, 3, cases.Tests)
	assert.Equal(t, 1, cases.Failures)
	assert.Equal(t, 1, cases.Skipped)
	require.NotNil(t, cases.Cases[1].Failure)
	assert.Equal(t, rep.Suite.Cases[1].Message, cases.Cases[1].Failure.Text, "quotes and parentheses survive escaping")
	assert.Equal(t, "verify.staging.integration", cases.Cases[1].Classname)
	assert.Equal(t, "0.030", cases.Cases[1].Time)
	assert.Equal(t, []junitProperty{{"endpoint", "agent-staging"}, {"env", "staging"}}, cases.Properties)

	load := got.Suites[1]
	assert.Equal(t, 3, load.Tests)
	assert.Equal(t, 1, load.Failures, "error rate over 1%")
	assert.Contains(t, load.SystemOut, "served by")

	metrics := got.Suites[2]
	assert.Equal(t, 1, metrics.Failures, "5xx appeared")
	assert.Equal(t, got.Tests, 3+3+2)
	assert.Equal(t, got.Failures, 3)

	// A second render is byte-identical: nothing depends on map order.
	again, err := rep.JUnit()
	require.NoError(t, err)
	assert.Equal(t, string(data), string(again))
}

func TestWriteRejectsEnvThatIsNotAFolderName(t *testing.T) {
	rep := fixedReport()
	rep.Env = "../x"
	_, err := rep.Write(t.TempDir())
	require.Error(t, err)
}
