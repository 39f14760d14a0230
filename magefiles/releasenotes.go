//go:build mage

package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/magefile/mage/mg"

	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
	"github.com/hitl-mlops/interrupt-agent/magefiles/releasenotes"
)

// Release holds release bookkeeping targets.
type Release mg.Namespace

// Notes writes artifacts/release-notes.md for the tag on HEAD (or -tag=vX.Y.Z), with model versions from artifacts/releases, and updates the GitHub release when GITHUB_TOKEN is set.
func (Release) Notes(ctx context.Context, tag *string) error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	o := releasenotes.WriteOptions{
		RepoDir:     root,
		OutPath:     filepath.Join(root, "artifacts", "release-notes.md"),
		RecordsDir:  releasenotes.RecordsDir(filepath.Join(root, "artifacts")),
		GitHubToken: os.Getenv("GITHUB_TOKEN"),
		GitHubRepo:  os.Getenv("GITHUB_REPOSITORY"),
		GitHubAPI:   os.Getenv("GITHUB_API_URL"),
		Log:         os.Stdout,
	}
	if tag != nil {
		o.Tag = *tag
	}
	_, err = releasenotes.WriteAndPublish(ctx, o)
	return err
}
