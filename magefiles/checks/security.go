package checks

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// The security scan is two tasks, so the quick bandit result never waits
// for gosec's first build. Both write SARIF under artifacts/security/.

// severityRank orders the tools' severities; a finding at or above the
// threshold (CI_SECURITY_SEVERITY, default low: every finding, as the
// tools do by default) fails the check.
var severityRank = map[string]int{"UNDEFINED": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}

func securityThreshold(cfg Config) (int, error) {
	v := strings.ToUpper(strings.TrimSpace(cfg.getenv("CI_SECURITY_SEVERITY")))
	if v == "" {
		return severityRank["LOW"], nil
	}
	r, ok := severityRank[v]
	if !ok || v == "UNDEFINED" {
		return 0, fmt.Errorf("CI_SECURITY_SEVERITY=%q: want low, medium or high", v)
	}
	return r, nil
}

// sarifLevel maps a severity to a SARIF level and an annotation severity.
func sarifLevel(sev string) string {
	switch strings.ToUpper(sev) {
	case "HIGH":
		return "error"
	case "MEDIUM":
		return "warning"
	default:
		return "note"
	}
}

var banditModules = []string{"bandit"}

// Bandit scans src/ with bandit and writes artifacts/security/bandit.sarif.
func Bandit(cfg Config) pipeline.Task {
	pys := cfg.python()
	return pipeline.Task{
		Name: "bandit",
		Inputs: pipeline.Inputs{
			Files:   []string{"src/**/*.py", ".bandit"},
			Env:     []string{"CI_SECURITY_SEVERITY"},
			Version: pythonToolsVersion(pys, "", banditModules),
		},
		Run: func(ctx context.Context, t *pipeline.T) error {
			if !isDir(filepath.Join(cfg.Root, "src")) {
				return pipeline.Skip("no src/ directory")
			}
			threshold, err := securityThreshold(cfg)
			if err != nil {
				return err
			}
			py, err := pys.Ensure(ctx, logTo(t), banditModules...)
			if err != nil {
				return err
			}
			dir := filepath.Join(t.Artifacts(), "security")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			jsonPath := filepath.Join(dir, "bandit.json")
			_ = os.Remove(jsonPath)
			runErr := toolchain.Run(ctx, toolchain.Cmd{
				Name: py.Path, Args: []string{"-m", "bandit", "-r", "src", "-q", "-f", "json", "-o", jsonPath},
				Dir: cfg.Root, Stdout: t.Out(), Stderr: t.Out(),
			})
			// bandit exits 1 when it found something; only a missing
			// report means it did not run.
			// #nosec G304 -- the JSON report this check just had bandit write under artifacts/
			b, err := os.ReadFile(jsonPath)
			if err != nil {
				if runErr != nil {
					return fmt.Errorf("bandit: %w", runErr)
				}
				return fmt.Errorf("bandit wrote no report: %w", err)
			}
			rep, err := parseBandit(b)
			if err != nil {
				return err
			}
			ver, _ := pys.DistVersions(ctx, py, "bandit")
			if err := writeSARIF(filepath.Join(dir, "bandit.sarif"), banditSARIF(rep, cfg.Root, lastField(ver))); err != nil {
				return err
			}
			return reportSecurity(t, "bandit", banditFindings(rep, cfg.Root), rep.Errors, threshold)
		},
	}
}

// banditReport is bandit's JSON report (the fields used here).
type banditReport struct {
	Errors  []scanError    `json:"errors"`
	Results []banditResult `json:"results"`
}

type banditResult struct {
	Filename   string `json:"filename"`
	Line       int    `json:"line_number"`
	Col        int    `json:"col_offset"` // newer bandits only
	TestID     string `json:"test_id"`
	TestName   string `json:"test_name"`
	Severity   string `json:"issue_severity"`
	Confidence string `json:"issue_confidence"`
	Text       string `json:"issue_text"`
	MoreInfo   string `json:"more_info"`
	CWE        *struct {
		ID int `json:"id"`
	} `json:"issue_cwe"` // newer bandits only
}

func parseBandit(b []byte) (banditReport, error) {
	var r banditReport
	if err := json.Unmarshal(b, &r); err != nil {
		return banditReport{}, fmt.Errorf("parse bandit report: %w", err)
	}
	return r, nil
}

// banditSARIF converts bandit's JSON to SARIF: the Debian bandit has no
// SARIF formatter.
func banditSARIF(r banditReport, root, version string) sarifLog {
	rules := map[string]sarifRule{}
	results := make([]sarifResult, 0, len(r.Results))
	for _, res := range r.Results {
		if _, ok := rules[res.TestID]; !ok {
			rule := sarifRule{ID: res.TestID, Name: res.TestName, HelpURI: res.MoreInfo,
				ShortDescription: &sarifMessage{Text: res.TestName}}
			if res.CWE != nil && res.CWE.ID > 0 {
				rule.Properties = map[string]any{"tags": []string{fmt.Sprintf("CWE-%d", res.CWE.ID)}}
			}
			rules[res.TestID] = rule
		}
		col := res.Col + 1 // bandit columns are 0-based, SARIF's 1-based
		results = append(results, sarifResult{
			RuleID:  res.TestID,
			Level:   sarifLevel(res.Severity),
			Message: sarifMessage{Text: res.Text},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: relURI(root, res.Filename), URIBaseID: "%SRCROOT%"},
				Region:           sarifRegion{StartLine: res.Line, StartColumn: col},
			}}},
			Properties: map[string]any{"severity": res.Severity, "confidence": res.Confidence},
		})
	}
	driver := sarifDriver{Name: "Bandit", Version: version, InformationURI: "https://bandit.readthedocs.io/"}
	for _, rule := range rules {
		driver.Rules = append(driver.Rules, rule)
	}
	sortRules(driver.Rules)
	return sarifLog{Version: sarifVersion, Schema: sarifSchema, Runs: []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results}}}
}

// scanError is a file a scanner could not read (bandit's "errors").
type scanError struct {
	Filename string `json:"filename"`
	Reason   string `json:"reason"`
}

// secFinding is one security finding with the tool's severity.
type secFinding struct {
	pipeline.Finding
	Severity string // LOW, MEDIUM, HIGH
}

func banditFindings(r banditReport, root string) []secFinding {
	out := make([]secFinding, 0, len(r.Results))
	for _, res := range r.Results {
		out = append(out, secFinding{
			Finding: pipeline.Finding{File: relURI(root, res.Filename), Line: res.Line, Rule: res.TestID,
				Message: fmt.Sprintf("%s (severity %s, confidence %s)", res.Text, strings.ToLower(res.Severity), strings.ToLower(res.Confidence))},
			Severity: strings.ToUpper(res.Severity),
		})
	}
	return out
}

// reportSecurity records findings (failing ones as errors, the rest as
// notices), sets the summary and decides the outcome.
func reportSecurity(t *pipeline.T, tool string, fs []secFinding, toolErrors []scanError, threshold int) error {
	sort.SliceStable(fs, func(i, j int) bool { return severityRank[fs[i].Severity] > severityRank[fs[j].Severity] })
	counts := map[string]int{}
	var failing []secFinding
	for _, f := range fs {
		counts[f.Severity]++
		f.Finding.Severity = "notice"
		if severityRank[f.Severity] >= threshold {
			f.Finding.Severity = "error"
			failing = append(failing, f)
		}
		t.Finding(f.Finding)
		t.Printf("%s:%d: %s [%s] %s", f.File, f.Line, f.Severity, f.Rule, f.Message)
	}
	for _, e := range toolErrors {
		t.Finding(pipeline.Finding{File: e.Filename, Rule: tool, Message: "not scanned: " + e.Reason})
		t.Printf("%s: not scanned: %s", e.Filename, e.Reason)
	}
	var parts []string
	for _, sev := range []string{"HIGH", "MEDIUM", "LOW"} {
		if counts[sev] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[sev], strings.ToLower(sev)))
		}
	}
	switch {
	case len(failing) > 0:
		f := failing[0]
		t.Summary("%s; first: %s:%d %s", strings.Join(parts, ", "), f.File, f.Line, f.Rule)
		return fmt.Errorf("%d finding(s) at or above the threshold; first: %s:%d [%s] %s (see artifacts/security/%s.sarif)",
			len(failing), f.File, f.Line, f.Rule, f.Message, tool)
	case len(toolErrors) > 0:
		t.Summary("%d file(s) could not be scanned", len(toolErrors))
		return fmt.Errorf("%s could not scan %d file(s): %s: %s", tool, len(toolErrors), toolErrors[0].Filename, toolErrors[0].Reason)
	case len(fs) > 0:
		t.Summary("%s (below threshold)", strings.Join(parts, ", "))
	default:
		t.Summary("no issues")
	}
	return nil
}

// gosecExcludes are the gosec rules this repository turns off, each for a
// reason that holds for build automation. G204 (a subprocess with a
// computed command) and G304 (a file path from a variable) are not among
// them: each accepted site carries `#nosec G204 -- reason` (or G304), so a
// shell fed a computed command line anywhere else fails the check.
var gosecExcludes = []string{
	"G301", // report and cache directories are 0755 on purpose: CI uploads read them
	"G302", // chmod of built tools and reports to 0644/0755, same reason
	"G306", // reports written 0644, same reason
}

// Gosec scans the Go code with gosec and writes artifacts/security/gosec.sarif.
func Gosec(cfg Config) pipeline.Task {
	tool := toolchain.Tool("gosec")
	return pipeline.Task{
		Name: "gosec",
		Inputs: pipeline.Inputs{
			Files:   []string{"**/*.go", "go.mod", "go.sum"},
			Config:  []string{"exclude=" + strings.Join(gosecExcludes, ",")},
			Env:     []string{"CI_SECURITY_SEVERITY"},
			Version: goToolVersion(tool),
		},
		Run: func(ctx context.Context, t *pipeline.T) error {
			threshold, err := securityThreshold(cfg)
			if err != nil {
				return err
			}
			bin, err := toolchain.EnsureGoTool(ctx, cfg.toolsDir(), tool, logTo(t))
			if err != nil {
				return err
			}
			dir := filepath.Join(t.Artifacts(), "security")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			sarifPath := filepath.Join(dir, "gosec.sarif")
			_ = os.Remove(sarifPath)
			version, err := goToolVersion(tool)(ctx)
			if err != nil {
				return err
			}
			plan, err := planGosec(ctx, t, cfg, version)
			if err != nil {
				return err
			}
			var b []byte
			var runErr error
			if len(plan.run) > 0 {
				if len(plan.kept) > 0 {
					t.Printf("analysing %d of %d packages (the others unchanged since they were analysed): %s", len(plan.run), plan.all, strings.Join(plan.run, ", "))
				}
				if b, runErr, err = plan.analyse(ctx, t, cfg, bin, sarifPath); err != nil {
					return err
				}
			}
			if runErr == nil {
				// Only a clean run's results are kept for its packages.
				if b, err = plan.merge(t, b, cfg.Root); err != nil {
					return err
				}
				if err := os.WriteFile(sarifPath, b, 0o644); err != nil {
					return err
				}
			}
			fs, err := gosecFindings(b, cfg.Root)
			if err != nil {
				return err
			}
			if err := reportSecurity(t, "gosec", fs, nil, threshold); err != nil {
				return err
			}
			if runErr != nil {
				return fmt.Errorf("gosec: %w", runErr) // its log is above
			}
			return nil
		},
	}
}

// gosecFindings reads gosec's SARIF. The severity is the LOW, MEDIUM or
// HIGH tag of the result's rule (gosec's levels do not follow it: a LOW
// rule is a "warning"); the level is the fallback.
func gosecFindings(b []byte, root string) ([]secFinding, error) {
	log, err := readSARIF(b)
	if err != nil {
		return nil, fmt.Errorf("gosec report: %w", err)
	}
	var out []secFinding
	for _, run := range log.Runs {
		ruleSeverity := map[string]string{}
		for _, rule := range run.Tool.Driver.Rules {
			tags, _ := rule.Properties["tags"].([]any)
			for _, tag := range tags {
				if s, ok := tag.(string); ok && severityRank[s] > 0 {
					ruleSeverity[rule.ID] = s
				}
			}
		}
		for _, r := range run.Results {
			file, line, col := r.location()
			sev := ruleSeverity[r.RuleID]
			if sev == "" {
				sev = map[string]string{"error": "HIGH", "warning": "MEDIUM", "note": "LOW"}[r.Level]
			}
			if sev == "" {
				sev = "MEDIUM"
			}
			out = append(out, secFinding{
				Finding:  pipeline.Finding{File: relURI(root, file), Line: line, Col: col, Rule: r.RuleID, Message: r.Message.Text},
				Severity: sev,
			})
		}
	}
	return out, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func lastField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}
