package releasenotes

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// WriteOptions configure WriteAndPublish.
type WriteOptions struct {
	RepoDir  string
	Tag      string // "" = the highest release tag on HEAD
	Deployed []Deployment
	// RecordsDir, when set and Deployed is empty, supplies Deployed from
	// the release records mirrored there (see DeployedFromRecords).
	RecordsDir string
	OutPath    string // usually artifacts/release-notes.md
	// GitHub publishing happens only when both are set.
	GitHubToken string
	GitHubRepo  string // owner/name, as in GITHUB_REPOSITORY
	GitHubAPI   string // "" = DefaultGitHubAPI
	Log         io.Writer
}

// WriteAndPublish generates the notes, writes them to OutPath and, with a
// token and a repository, updates the GitHub release; without them it says
// the notes were written locally only.
func WriteAndPublish(ctx context.Context, o WriteOptions) (*Notes, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	tag := o.Tag
	if tag == "" {
		var err error
		if tag, err = HeadTag(ctx, o.RepoDir); err != nil {
			return nil, err
		}
	}
	if len(o.Deployed) == 0 && o.RecordsDir != "" {
		deployed, err := DeployedFromRecords(ctx, o.RecordsDir, tag)
		if err != nil {
			return nil, err
		}
		o.Deployed = deployed
		if len(deployed) == 0 {
			fmt.Fprintf(o.Log, "no release records of %s under %s: the notes list no deployed model versions\n", tag, o.RecordsDir)
		}
	}
	notes, err := Generate(ctx, o.RepoDir, tag, o.Deployed)
	if err != nil {
		return nil, err
	}
	md := notes.Markdown()
	if err := os.MkdirAll(filepath.Dir(o.OutPath), 0o755); err != nil {
		return nil, fmt.Errorf("write release notes: %w", err)
	}
	if err := os.WriteFile(o.OutPath, []byte(md), 0o644); err != nil {
		return nil, fmt.Errorf("write release notes: %w", err)
	}
	since := "the first commit"
	if notes.Previous != "" {
		since = notes.Previous
	}
	fmt.Fprintf(o.Log, "release notes for %s (%d commits since %s) written to %s\n", tag, len(notes.Commits), since, o.OutPath)
	if o.GitHubToken == "" || o.GitHubRepo == "" {
		fmt.Fprintln(o.Log, "written locally only: set GITHUB_TOKEN and GITHUB_REPOSITORY to update the GitHub release")
		return notes, nil
	}
	if err := PublishGitHub(ctx, o.GitHubAPI, o.GitHubRepo, o.GitHubToken, tag, md); err != nil {
		return notes, err
	}
	fmt.Fprintf(o.Log, "updated the GitHub release %s of %s\n", tag, o.GitHubRepo)
	return notes, nil
}

// HeadTag returns the highest release tag pointing at HEAD.
func HeadTag(ctx context.Context, repoDir string) (string, error) {
	out, err := git(ctx, repoDir, "tag", "--points-at", "HEAD")
	if err != nil {
		return "", fmt.Errorf("find the release tag on HEAD: %w", err)
	}
	tags := SortTags(strings.Fields(out))
	if len(tags) == 0 {
		return "", fmt.Errorf("no release tag (vMAJOR.MINOR.PATCH) points at HEAD: tag the commit or pass -tag=vX.Y.Z")
	}
	return tags[len(tags)-1].String(), nil
}
