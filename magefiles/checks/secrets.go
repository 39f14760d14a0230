package checks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/checks/secretscan"
	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// Secrets scans the working tree (or, with History, every commit) for
// secrets with gitleaks' rules. Findings in .gitleaks-baseline.json pass;
// any other fails. The secret itself is never printed: only file:line,
// the rule and a fingerprint.
func Secrets(cfg Config) pipeline.Task {
	mode := "tree"
	if cfg.History {
		mode = "history"
	}
	return pipeline.Task{
		Name: "secrets",
		Inputs: pipeline.Inputs{
			// Every file can hold a secret.
			Files:  []string{"**"},
			Config: []string{"mode=" + mode},
			Version: func(ctx context.Context) (string, error) {
				v := secretscan.Version()
				if !cfg.History {
					return v, nil
				}
				// The history is an input too: any new commit or ref.
				refs, err := toolchain.Output(ctx, toolchain.Cmd{Name: "git", Args: []string{"rev-parse", "--all"}, Dir: cfg.Root})
				if err != nil {
					return "", err
				}
				h := sha256.Sum256([]byte(refs))
				return v + " refs " + hex.EncodeToString(h[:]), nil
			},
		},
		Run: func(ctx context.Context, t *pipeline.T) error {
			blPath := filepath.Join(cfg.Root, secretscan.BaselineFile)
			bl, err := secretscan.LoadBaseline(blPath)
			if err != nil {
				return err
			}
			fs, err := secretscan.Scan(ctx, cfg.Root, secretscan.Options{History: cfg.History, Skip: []string{secretscan.BaselineFile}})
			if errors.Is(err, secretscan.ErrNoHistory) {
				return pipeline.Skip("%v", err)
			}
			if err != nil {
				return err
			}
			fresh, accepted := bl.Split(fs)
			for _, f := range accepted {
				t.Printf("%s: %s (accepted in %s)", f.Location(), f.Rule, secretscan.BaselineFile)
			}
			for _, f := range fresh {
				msg := secretMessage(f)
				t.Printf("%s: %s", f.Location(), msg)
				t.Finding(pipeline.Finding{File: f.File, Line: f.Line, Col: f.Column, Rule: f.Rule, Message: msg})
			}
			if err := writeSARIF(filepath.Join(t.Artifacts(), "security", "secrets.sarif"), secretsSARIF(fresh)); err != nil {
				return err
			}
			scope := "the working tree"
			if cfg.History {
				scope = "all commits"
			}
			if len(fresh) > 0 {
				t.Summary("%d new secret(s) in %s; first: %s %s", len(fresh), scope, fresh[0].Location(), fresh[0].Rule)
				return fmt.Errorf("%d new secret(s); first: %s: %s - remove it and rotate it; if it is not a secret, accept it with: go run mage.go ci:secretsBaseline",
					len(fresh), fresh[0].Location(), fresh[0].Rule)
			}
			if len(accepted) > 0 {
				t.Summary("no new secrets in %s (%d accepted in the baseline)", scope, len(accepted))
			} else {
				t.Summary("no secrets in %s", scope)
			}
			return nil
		},
	}
}

func secretMessage(f secretscan.Finding) string {
	msg := "possible secret (" + f.Rule + ")"
	if f.Description != "" {
		msg += ": " + strings.TrimSuffix(f.Description, ".")
	}
	return msg + "; fingerprint " + f.Fingerprint
}

// secretsSARIF reports new findings for code scanning, with no secret in it.
func secretsSARIF(fs []secretscan.Finding) sarifLog {
	rules := map[string]bool{}
	driver := sarifDriver{Name: "gitleaks", Version: strings.TrimPrefix(secretscan.Version(), "github.com/zricethezav/gitleaks/v8 ")}
	results := make([]sarifResult, 0, len(fs))
	for _, f := range fs {
		if !rules[f.Rule] {
			rules[f.Rule] = true
			driver.Rules = append(driver.Rules, sarifRule{ID: f.Rule, ShortDescription: &sarifMessage{Text: f.Description}})
		}
		results = append(results, sarifResult{
			RuleID: f.Rule, Level: "error", Message: sarifMessage{Text: secretMessage(f)},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: f.File, URIBaseID: "%SRCROOT%"},
				Region:           sarifRegion{StartLine: f.Line, StartColumn: f.Column},
			}}},
			Properties: map[string]any{"fingerprint": f.Fingerprint, "commit": f.Commit},
		})
	}
	sortRules(driver.Rules)
	return sarifLog{Version: sarifVersion, Schema: sarifSchema, Runs: []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results}}}
}

// AcceptSecrets adds every current finding (of the tree, or of the
// history) to the baseline and returns what was added. It is the explicit,
// reviewed step behind `mage ci:secretsBaseline`.
func AcceptSecrets(ctx context.Context, root string, history bool, reason string) ([]secretscan.Finding, error) {
	blPath := filepath.Join(root, secretscan.BaselineFile)
	bl, err := secretscan.LoadBaseline(blPath)
	if err != nil {
		return nil, err
	}
	fs, err := secretscan.Scan(ctx, root, secretscan.Options{History: history, Skip: []string{secretscan.BaselineFile}})
	if err != nil {
		return nil, err
	}
	fresh, _ := bl.Split(fs)
	bl.Add(fresh, reason)
	if err := bl.Write(blPath); err != nil {
		return nil, err
	}
	return fresh, nil
}
