package releasenotes

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
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
	if err := o.checkPublish(); err != nil {
		return nil, err
	}
	tag := o.Tag
	if tag != "" {
		if _, err := release.ParseTag(tag); err != nil {
			return nil, fmt.Errorf("release notes: -tag=%q: %w", tag, err)
		}
	}
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

// checkPublish refuses GitHub settings that would only fail after the
// notes were written: a repository that is not owner/name, an API URL that
// is not http(s).
func (o WriteOptions) checkPublish() error {
	if o.GitHubToken == "" || o.GitHubRepo == "" {
		return nil
	}
	if !repoRE.MatchString(o.GitHubRepo) {
		return fmt.Errorf("release notes: GITHUB_REPOSITORY=%q is not owner/name: nothing was written", o.GitHubRepo)
	}
	if o.GitHubAPI != "" {
		u, err := url.Parse(o.GitHubAPI)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("release notes: GITHUB_API_URL=%q is not an http(s) URL: nothing was written", o.GitHubAPI)
		}
	}
	return nil
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
