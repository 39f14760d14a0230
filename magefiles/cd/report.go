package cd

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/insights"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// DefaultReportWindow is how far back `mage report` looks by default.
const DefaultReportWindow = 90 * 24 * time.Hour

// Report runs `mage report`: the DORA measures of every environment over
// the window ending now, from each environment's journal (read with that
// environment's credentials) and the release tags' first commits, written
// to artifacts/report/ as JSON, Markdown and HTML (and the Markdown to the
// GitHub step summary when there is one). An environment whose journal
// cannot be read is named with why, and left out of the measures.
func Report(ctx context.Context, o Options, window time.Duration) (insights.Report, insights.Files, error) {
	if window <= 0 {
		return insights.Report{}, insights.Files{}, fmt.Errorf("report: the window must be positive, got %s", window)
	}
	o.Env = EnvDev // any valid environment: each is connected below
	s, err := NewState(ctx, o)
	if err != nil {
		return insights.Report{}, insights.Files{}, err
	}
	first, err := release.Git{Dir: s.Root}.FirstCommits(ctx)
	if err != nil {
		return insights.Report{}, insights.Files{}, fmt.Errorf("report: release tags: %w", err)
	}
	now := s.Clock.Now().UTC()
	in := insights.Input{Records: map[string][]*release.Record{}, FirstCommit: first, Since: now.Add(-window), Until: now, Unread: map[string]string{}}
	for _, env := range Envs {
		recs, err := s.journalRecords(ctx, env)
		if err != nil {
			in.Unread[env] = firstLine(err.Error())
			s.Printf("   %s: not read: %s\n", env, firstLine(err.Error()))
			continue
		}
		in.Records[env] = recs
	}
	if len(in.Unread) == 0 {
		in.Unread = nil
	}
	r := insights.Compute(in)
	files, err := insights.Render(r, filepath.Join(s.Artifacts, "report"))
	if err != nil {
		return r, files, err
	}
	var md strings.Builder
	insights.Markdown(&md, r)
	s.Printf("%s", md.String())
	s.appendStepSummary(md.String())
	s.Printf("\nReport: %s (also %s, %s)\n", files.HTML, files.Markdown, files.JSON)
	return r, files, nil
}

// journalRecords lists an environment's release records with its own
// client.
func (s *State) journalRecords(ctx context.Context, env string) ([]*release.Record, error) {
	c, err := s.connect(ctx, env)
	if err != nil {
		return nil, err
	}
	cfg, err := s.LoadConfig(env, c.User)
	if err != nil {
		return nil, err
	}
	return s.journal(c, cfg).List(ctx)
}
