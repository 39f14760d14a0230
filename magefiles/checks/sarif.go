package checks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The subset of SARIF 2.1.0 the security checks write (bandit, converted)
// and read (gosec's own output). Code scanning accepts this shape.

const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
)

type sarifLog struct {
	Version string     `json:"version"`
	Schema  string     `json:"$schema,omitempty"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules,omitempty"`
}

type sarifRule struct {
	ID               string         `json:"id"`
	Name             string         `json:"name,omitempty"`
	ShortDescription *sarifMessage  `json:"shortDescription,omitempty"`
	HelpURI          string         `json:"helpUri,omitempty"`
	Properties       map[string]any `json:"properties,omitempty"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	Level      string          `json:"level,omitempty"` // error, warning, note
	Message    sarifMessage    `json:"message"`
	Locations  []sarifLocation `json:"locations,omitempty"`
	Properties map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine,omitempty"`
	StartColumn int `json:"startColumn,omitempty"`
}

// location returns the result's first file and line.
func (r sarifResult) location() (file string, line, col int) {
	if len(r.Locations) == 0 {
		return "", 0, 0
	}
	p := r.Locations[0].PhysicalLocation
	return p.ArtifactLocation.URI, p.Region.StartLine, p.Region.StartColumn
}

// sortRules orders a driver's rules by ID, so reports are stable.
func sortRules(rules []sarifRule) {
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
}

// writeSARIF writes the log, creating the directory.
func writeSARIF(path string, log sarifLog) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	b, err := json.MarshalIndent(log, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// readSARIF parses a SARIF log.
func readSARIF(b []byte) (sarifLog, error) {
	var log sarifLog
	if err := json.Unmarshal(b, &log); err != nil {
		return sarifLog{}, fmt.Errorf("parse SARIF: %w", err)
	}
	if log.Version != sarifVersion {
		return sarifLog{}, fmt.Errorf("parse SARIF: version %q, want %s", log.Version, sarifVersion)
	}
	return log, nil
}

// relURI turns a tool's file name (absolute, or relative to root) into a
// slash-separated path relative to root.
func relURI(root, name string) string {
	name = strings.TrimPrefix(name, "file://")
	if filepath.IsAbs(name) {
		if rel, err := filepath.Rel(root, name); err == nil && !strings.HasPrefix(rel, "..") {
			name = rel
		}
	}
	return filepath.ToSlash(strings.TrimPrefix(name, "./"))
}
