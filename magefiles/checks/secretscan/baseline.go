package secretscan

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
)

// BaselineFile is the committed list of accepted findings, at the
// repository root.
const BaselineFile = ".gitleaks-baseline.json"

// baselineVersion is the file format; a file of another version is an
// error, never silently read as empty.
const baselineVersion = 1

// Baseline is the set of accepted findings. An entry accepts the same
// secret (fingerprint) under the same rule in the same file, wherever the
// line moves and in whichever commit it appears; a new secret, or the
// same one copied to another file, is not accepted.
type Baseline struct {
	Version  int     `json:"version"`
	Comment  string  `json:"comment,omitempty"`
	Accepted []Entry `json:"accepted"`
}

// Entry is one accepted finding. Line and Commit say where it was when it
// was accepted; they are not compared.
type Entry struct {
	File        string `json:"file"`
	Rule        string `json:"rule"`
	Fingerprint string `json:"fingerprint"`
	Line        int    `json:"line,omitempty"`
	Commit      string `json:"commit,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// LoadBaseline reads the baseline; a missing file is an empty baseline.
func LoadBaseline(path string) (*Baseline, error) {
	// #nosec G304 -- the reviewed baseline file at the repository root
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Baseline{Version: baselineVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read secrets baseline: %w", err)
	}
	var bl Baseline
	if err := json.Unmarshal(b, &bl); err != nil {
		return nil, fmt.Errorf("parse secrets baseline %s: %w", path, err)
	}
	if bl.Version != baselineVersion {
		return nil, fmt.Errorf("secrets baseline %s: version %d, want %d", path, bl.Version, baselineVersion)
	}
	for i, e := range bl.Accepted {
		if e.File == "" || e.Rule == "" || e.Fingerprint == "" {
			return nil, fmt.Errorf("secrets baseline %s: entry %d needs file, rule and fingerprint", path, i+1)
		}
	}
	return &bl, nil
}

// Accepts reports whether the finding is in the baseline.
func (b *Baseline) Accepts(f Finding) bool {
	for _, e := range b.Accepted {
		if e.File == f.File && e.Rule == f.Rule && e.Fingerprint == f.Fingerprint {
			return true
		}
	}
	return false
}

// Split separates new findings from accepted ones.
func (b *Baseline) Split(fs []Finding) (fresh, accepted []Finding) {
	for _, f := range fs {
		if b.Accepts(f) {
			accepted = append(accepted, f)
		} else {
			fresh = append(fresh, f)
		}
	}
	return fresh, accepted
}

// Add accepts the findings (keeping entries already there, and their
// reasons) and returns how many were new.
func (b *Baseline) Add(fs []Finding, reason string) int {
	n := 0
	for _, f := range fs {
		if b.Accepts(f) {
			continue
		}
		b.Accepted = append(b.Accepted, Entry{File: f.File, Rule: f.Rule, Fingerprint: f.Fingerprint,
			Line: f.Line, Commit: f.Commit, Reason: reason})
		n++
	}
	sort.SliceStable(b.Accepted, func(i, j int) bool {
		a, c := b.Accepted[i], b.Accepted[j]
		if a.File != c.File {
			return a.File < c.File
		}
		return a.Line < c.Line
	})
	return n
}

// Write stores the baseline.
func (b *Baseline) Write(path string) error {
	b.Version = baselineVersion
	if b.Comment == "" {
		b.Comment = "Accepted secret-scan findings (fingerprints only, never the secrets). Update with: go run mage.go ci:secretsBaseline"
	}
	if b.Accepted == nil {
		b.Accepted = []Entry{}
	}
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}
