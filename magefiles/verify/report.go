package verify

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Report is the outcome of one verify run.
type Report struct {
	Env, Endpoint string
	Started       time.Time
	Duration      time.Duration
	Suite         SuiteResult
	// Load is nil when no load test ran; LoadSkipped says why.
	Load        *LoadResult
	LoadSkipped string
	// Metrics is nil when the export was not checked; MetricsSkipped says
	// why.
	Metrics        *MetricsResult
	MetricsSkipped string
	Passed         bool
	// Failures name what failed, one entry per part.
	Failures []string
}

// Summary is the JSON form of a report (summary.json), also the shape to keep
// in a release record. Durations are milliseconds.
type Summary struct {
	Env            string          `json:"env"`
	Endpoint       string          `json:"endpoint"`
	Started        time.Time       `json:"started"`
	DurationMs     float64         `json:"duration_ms"`
	Passed         bool            `json:"passed"`
	Failures       []string        `json:"failures"`
	Suite          SuiteSummary    `json:"suite"`
	Load           *LoadSummary    `json:"load,omitempty"`
	LoadSkipped    string          `json:"load_skipped,omitempty"`
	Metrics        *MetricsSummary `json:"metrics,omitempty"`
	MetricsSkipped string          `json:"metrics_skipped,omitempty"`
}

// SuiteSummary is the JSON form of a suite's result.
type SuiteSummary struct {
	Name       string        `json:"name"`
	Passed     int           `json:"passed"`
	Failed     int           `json:"failed"`
	Skipped    int           `json:"skipped"`
	DurationMs float64       `json:"duration_ms"`
	Cases      []CaseSummary `json:"cases"`
}

// CaseSummary is the JSON form of one case's result.
type CaseSummary struct {
	Name        string   `json:"name"`
	Smoke       bool     `json:"smoke"`
	Outcome     Outcome  `json:"outcome"`
	DurationMs  float64  `json:"duration_ms"`
	Message     string   `json:"message,omitempty"`
	Statuses    []string `json:"statuses,omitempty"`
	ServedModel string   `json:"served_model,omitempty"`
}

// LoadSummary is the JSON form of a load test.
type LoadSummary struct {
	Concurrency    int                `json:"concurrency"`
	DurationMs     float64            `json:"duration_limit_ms"`
	MaxRequests    int                `json:"max_requests"`
	StopReason     string             `json:"stop_reason"`
	Sent           int                `json:"sent"`
	Succeeded      int                `json:"succeeded"`
	Errors         int                `json:"errors"`
	ErrorsByKind   map[string]int     `json:"errors_by_kind"`
	ServedModels   map[string]int     `json:"served_models"`
	ElapsedMs      float64            `json:"elapsed_ms"`
	LatencyMs      map[string]float64 `json:"latency_ms"`
	RPS            float64            `json:"rps"`
	ErrorRate      float64            `json:"error_rate"`
	MaxP95Ms       float64            `json:"max_p95_ms"`
	MaxErrorRate   float64            `json:"max_error_rate"`
	MinRPS         float64            `json:"min_rps"`
	Checks         []Check            `json:"checks"`
	RequestTimeout float64            `json:"request_timeout_ms,omitempty"`
}

// MetricsSummary is the JSON form of the metrics check.
type MetricsSummary struct {
	Sent         int                    `json:"sent"`
	Requests     float64                `json:"requests"`
	Errors4xx    float64                `json:"errors_4xx"`
	Errors5xx    float64                `json:"errors_5xx"`
	Entities     map[string]EntityDelta `json:"entities"`
	Reset        bool                   `json:"reset,omitempty"`
	Unattributed int                    `json:"unattributed_series,omitempty"`
	Reads        int                    `json:"reads"`
	Error        string                 `json:"error,omitempty"`
	Checks       []Check                `json:"checks"`
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Summary returns the JSON form of the report.
func (r *Report) Summary() Summary {
	s := Summary{
		Env: r.Env, Endpoint: r.Endpoint, Started: r.Started.UTC(), DurationMs: msf(r.Duration),
		Passed: r.Passed, Failures: r.Failures, LoadSkipped: r.LoadSkipped, MetricsSkipped: r.MetricsSkipped,
	}
	if s.Failures == nil {
		s.Failures = []string{}
	}
	p, f, k := r.Suite.Counts()
	s.Suite = SuiteSummary{Name: r.Suite.Name, Passed: p, Failed: f, Skipped: k, DurationMs: msf(r.Suite.Duration), Cases: []CaseSummary{}}
	for _, c := range r.Suite.Cases {
		s.Suite.Cases = append(s.Suite.Cases, CaseSummary{
			Name: c.Name, Smoke: c.Smoke, Outcome: c.Outcome, DurationMs: msf(c.Duration),
			Message: c.Message, Statuses: c.Statuses, ServedModel: c.ServedModel,
		})
	}
	if l := r.Load; l != nil {
		s.Load = &LoadSummary{
			Concurrency: l.Config.Concurrency, DurationMs: msf(l.Config.Duration), MaxRequests: l.Config.MaxRequests,
			RequestTimeout: msf(l.Config.RequestTimeout),
			StopReason:     l.StopReason, Sent: l.Sent, Succeeded: l.Succeeded, Errors: l.Errors,
			ErrorsByKind: l.ErrorsByKind, ServedModels: l.ServedModels, ElapsedMs: msf(l.Elapsed),
			LatencyMs: map[string]float64{
				"min": msf(l.Min), "p50": msf(l.P50), "p95": msf(l.P95), "p99": msf(l.P99), "max": msf(l.Max), "mean": msf(l.Mean),
			},
			RPS: l.RPS, ErrorRate: l.ErrorRate,
			MaxP95Ms: msf(l.Config.Thresholds.MaxP95), MaxErrorRate: l.Config.Thresholds.MaxErrorRate, MinRPS: l.Config.Thresholds.MinRPS,
			Checks: l.Checks,
		}
	}
	if m := r.Metrics; m != nil {
		s.Metrics = &MetricsSummary{
			Sent: m.Sent, Requests: m.Requests, Errors4xx: m.Errors4xx, Errors5xx: m.Errors5xx, Entities: m.Entities,
			Reset: m.Reset, Unattributed: m.Unattributed, Reads: m.Reads, Error: m.Err, Checks: m.Checks,
		}
	}
	return s
}

// JUnit XML, the subset CI systems read.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// JUnit renders the report as JUnit XML: one test suite for the cases, one
// for the load thresholds, one for the metrics checks.
func (r *Report) JUnit() ([]byte, error) {
	prefix := "verify:" + r.Env
	props := []junitProperty{{Name: "endpoint", Value: r.Endpoint}, {Name: "env", Value: r.Env}}
	top := junitSuites{Name: prefix, Time: secs(r.Duration)}

	suite := junitSuite{Name: prefix + " " + r.Suite.Name, Time: secs(r.Suite.Duration), Timestamp: r.Started.UTC().Format(time.RFC3339), Properties: props}
	for _, c := range r.Suite.Cases {
		suite.Cases = append(suite.Cases, outcomeCase(c.Name, "verify."+r.Env+"."+r.Suite.Name, c.Duration, c.Outcome, c.Message))
	}
	top.Suites = append(top.Suites, suite)

	if r.Load != nil {
		ls := junitSuite{Name: prefix + " load", Time: secs(r.Load.Elapsed), Properties: props, SystemOut: r.loadText()}
		for _, c := range r.Load.Checks {
			ls.Cases = append(ls.Cases, outcomeCase(c.Name+" "+c.Limit, "verify."+r.Env+".load", 0, c.Outcome, checkDetail(c)))
		}
		top.Suites = append(top.Suites, ls)
	} else {
		top.Suites = append(top.Suites, skippedSuite(prefix+" load", "verify."+r.Env+".load", r.LoadSkipped, props))
	}

	if m := r.Metrics; m != nil {
		ms := junitSuite{Name: prefix + " metrics", Time: "0.000", Properties: props}
		if m.Err != "" {
			ms.Cases = append(ms.Cases, outcomeCase("read metrics export", "verify."+r.Env+".metrics", 0, Fail, m.Err))
		}
		for _, c := range m.Checks {
			ms.Cases = append(ms.Cases, outcomeCase(c.Name, "verify."+r.Env+".metrics", 0, c.Outcome, checkDetail(c)))
		}
		top.Suites = append(top.Suites, ms)
	} else {
		top.Suites = append(top.Suites, skippedSuite(prefix+" metrics", "verify."+r.Env+".metrics", r.MetricsSkipped, props))
	}

	for i := range top.Suites {
		s := &top.Suites[i]
		s.Tests = len(s.Cases)
		for _, c := range s.Cases {
			if c.Failure != nil {
				s.Failures++
			}
			if c.Skipped != nil {
				s.Skipped++
			}
		}
		top.Tests += s.Tests
		top.Failures += s.Failures
		top.Skipped += s.Skipped
	}
	out, err := xml.MarshalIndent(top, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render junit: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

func outcomeCase(name, class string, d time.Duration, o Outcome, msg string) junitCase {
	c := junitCase{Name: name, Classname: class, Time: secs(d)}
	switch o {
	case Fail:
		c.Failure = &junitFailure{Message: truncate(msg, 500), Type: "fail", Text: msg}
	case Skip:
		c.Skipped = &junitSkipped{Message: msg}
	}
	return c
}

func skippedSuite(name, class, reason string, props []junitProperty) junitSuite {
	return junitSuite{Name: name, Time: "0.000", Properties: props, Cases: []junitCase{
		{Name: name, Classname: class, Time: "0.000", Skipped: &junitSkipped{Message: reason}},
	}}
}

func checkDetail(c Check) string {
	if c.Message != "" {
		return c.Message
	}
	return fmt.Sprintf("%s %s (limit %s)", c.Name, c.Value, c.Limit)
}

// Write stores junit.xml and summary.json under dir/verify/<env>/ and returns
// their paths.
func (r *Report) Write(dir string) ([]string, error) {
	if !envName.MatchString(r.Env) {
		return nil, fmt.Errorf("write verify report: environment %q is not a folder name", r.Env)
	}
	out := filepath.Join(dir, "verify", r.Env)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("write verify report: %w", err)
	}
	junit, err := r.JUnit()
	if err != nil {
		return nil, err
	}
	var summary bytes.Buffer
	enc := json.NewEncoder(&summary)
	enc.SetEscapeHTML(false) // keep "<= 500ms" readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.Summary()); err != nil {
		return nil, fmt.Errorf("write verify report: %w", err)
	}
	files := []struct {
		name string
		data []byte
	}{{"junit.xml", junit}, {"summary.json", summary.Bytes()}}
	var paths []string
	for _, f := range files {
		p := filepath.Join(out, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return paths, fmt.Errorf("write verify report: %w", err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
