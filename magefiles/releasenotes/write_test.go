package releasenotes

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

func TestWriteAndPublish(t *testing.T) {
	repo := releaseHistory(t)
	gh := startGitHub(t, "")

	tests := []struct {
		name      string
		opts      WriteOptions
		wantLog   []string
		published bool
	}{
		{
			name:    "tag on HEAD, written locally only",
			opts:    WriteOptions{},
			wantLog: []string{"release notes for v1.2.1 (0 commits since v1.2.0)", "written locally only: set GITHUB_TOKEN and GITHUB_REPOSITORY"},
		},
		{
			name:      "named tag, published to GitHub",
			opts:      WriteOptions{Tag: "v1.1.0", GitHubToken: plantedToken, GitHubRepo: "hitl-mlops/interrupt-agent", GitHubAPI: gh.URL},
			wantLog:   []string{"release notes for v1.1.0", "updated the GitHub release v1.1.0 of hitl-mlops/interrupt-agent"},
			published: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			o, notes, err := writeIn(t, repo, tt.opts, &log)
			require.NoError(t, err)
			b, err := os.ReadFile(o.OutPath)
			require.NoError(t, err)
			assert.Equal(t, notes.Markdown(), string(b))
			for _, w := range tt.wantLog {
				assert.Contains(t, log.String(), w)
			}
			assert.NotContains(t, log.String(), plantedToken)
			if tt.published {
				assert.Contains(t, gh.calls, "GET /repos/hitl-mlops/interrupt-agent/releases/tags/v1.1.0")
			}
		})
	}
}

func TestWriteAndPublishReadsReleaseRecords(t *testing.T) {
	repo := releaseHistory(t)
	records := t.TempDir()
	j := &release.Journal{Env: "prod", Store: release.DirStore{Dir: records}, Dir: "prod"}
	rec := &release.Record{Env: "prod", Kind: release.KindDeploy, Release: "v1.1.0", SHA: "abc1234",
		Model: &release.ModelVersionRef{Name: "langgraph_human_interrupt_model_prod", Version: "7"}}
	require.NoError(t, j.Begin(context.Background(), rec))

	var log bytes.Buffer
	out := filepath.Join(t.TempDir(), "release-notes.md")
	notes, err := WriteAndPublish(context.Background(), WriteOptions{RepoDir: repo, Tag: "v1.1.0", RecordsDir: records, OutPath: out, Log: &log})
	require.NoError(t, err)
	require.Len(t, notes.Deployed, 1)
	assert.Contains(t, notes.Markdown(), "langgraph_human_interrupt_model_prod")

	_, err = WriteAndPublish(context.Background(), WriteOptions{RepoDir: repo, Tag: "v1.0.0", RecordsDir: records, OutPath: out, Log: &log})
	require.NoError(t, err)
	assert.Contains(t, log.String(), "no release records of v1.0.0")
}

func TestHeadTagWithoutRelease(t *testing.T) {
	r := newGitRepo(t)
	r.commit(ada, "chore: start")
	_, err := HeadTag(context.Background(), r.dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pass -tag=vX.Y.Z")
}

// TestWriteAndPublishRefusesBadInputFirst: every bad option is refused
// before the notes file is written and before any request reaches GitHub.
func TestWriteAndPublishRefusesBadInputFirst(t *testing.T) {
	repo := releaseHistory(t)
	gh := startGitHub(t, "")
	tests := []struct {
		name string
		opts WriteOptions
		want string
	}{
		{"tag that is not a release tag", WriteOptions{Tag: "latest"}, `-tag="latest"`},
		{"tag without its v", WriteOptions{Tag: "1.1.0"}, `-tag="1.1.0"`},
		{"tag that does not exist", WriteOptions{Tag: "v9.9.9", GitHubToken: plantedToken, GitHubRepo: "hitl-mlops/interrupt-agent", GitHubAPI: gh.URL}, "no such tag"},
		{"repository that is not owner/name", WriteOptions{Tag: "v1.1.0", GitHubToken: plantedToken, GitHubRepo: "interrupt-agent", GitHubAPI: gh.URL}, `GITHUB_REPOSITORY="interrupt-agent" is not owner/name`},
		{"API URL that is not http(s)", WriteOptions{Tag: "v1.1.0", GitHubToken: plantedToken, GitHubRepo: "hitl-mlops/interrupt-agent", GitHubAPI: "ftp://example.test"}, `GITHUB_API_URL="ftp://example.test"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			o, _, err := writeIn(t, repo, tt.opts, &log)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NoFileExists(t, o.OutPath, "nothing is written")
			assert.NotContains(t, err.Error()+log.String(), plantedToken)
		})
	}
	assert.Empty(t, gh.calls, "no request reached GitHub")
}

// writeIn runs WriteAndPublish on repo with the notes going to a temporary
// artifacts folder, and returns the options it ran with.
func writeIn(t *testing.T, repo string, o WriteOptions, log *bytes.Buffer) (WriteOptions, *Notes, error) {
	t.Helper()
	o.RepoDir, o.Log = repo, log
	o.OutPath = filepath.Join(t.TempDir(), "artifacts", "release-notes.md")
	notes, err := WriteAndPublish(context.Background(), o)
	return o, notes, err
}
