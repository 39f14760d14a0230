package releasenotes

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// gitRepo builds a repository with a fixed clock and fixed authors, so
// commit SHAs (and the golden files that show them) never change.
type gitRepo struct {
	t     *testing.T
	dir   string
	clock time.Time
	n     int
}

type person struct{ name, email string }

var (
	ada   = person{"Ada Lovelace", "ada@example.test"}
	grace = person{"Grace Hopper", "grace@example.test"}
	linus = person{"Linus Torvalds", "linus@example.test"}
)

// isolateGit keeps the user's and the system's git config away from both
// the fixture and the code under test.
func isolateGit(t *testing.T) {
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	isolateGit(t)
	r := &gitRepo{t: t, dir: t.TempDir(), clock: time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)}
	r.run(ada, "", "init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) run(who person, stdin string, args ...string) string {
	r.t.Helper()
	date := r.clock.Format(time.RFC3339)
	cmd := exec.Command("git", append([]string{"-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME="+who.name, "GIT_AUTHOR_EMAIL="+who.email, "GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_NAME="+who.name, "GIT_COMMITTER_EMAIL="+who.email, "GIT_COMMITTER_DATE="+date,
	)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	require.NoError(r.t, err, "git %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// commit adds a file and commits it with msg, one hour after the last
// commit. A new file each time keeps branches free of conflicts.
func (r *gitRepo) commit(who person, msg string) {
	r.t.Helper()
	r.clock = r.clock.Add(time.Hour)
	r.n++
	name := fmt.Sprintf("change-%02d.txt", r.n)
	header, _, _ := strings.Cut(msg, "\n")
	require.NoError(r.t, os.WriteFile(filepath.Join(r.dir, name), []byte(header+"\n"), 0o644))
	r.run(who, "", "add", name)
	r.run(who, msg, "commit", "-q", "-F", "-")
}

// releaseHistory is the fixture behind the golden files: two releases, a
// release candidate between them, a merged topic branch, tags that are not
// releases, and a release with no changes.
func releaseHistory(t *testing.T) string {
	r := newGitRepo(t)
	r.commit(ada, "chore: start the project")
	r.commit(ada, "feat(model): keyword rules for interrupt detection")
	r.commit(grace, "fix: handle empty prompts")
	r.commit(grace, "Add README")
	r.run(ada, "", "tag", "-a", "v1.0.0", "-m", "First release")

	r.commit(ada, "feat(serving)!: rename the request field to `messages`")
	r.commit(linus, "fix(bundle): resolve ${var.catalog} in resources/*.yml")
	r.run(ada, "", "tag", "v1.1.0-rc.1")
	r.commit(grace, "feat: canary weights for <T> endpoints\n\nAdds weight steps to the rollout.\n\n"+
		"BREAKING CHANGE: the rollout policy moved from\ndatabricks.yml to resources/serving.yml.\nRefs: #12\n")
	r.commit(ada, "docs(readme): explain rollback")
	r.commit(linus, "refactor!: drop the legacy scorer")
	r.commit(linus, "ci: cache Go modules")
	r.commit(grace, "fix(verify): retry 503 from the endpoint")
	r.run(ada, "", "tag", "v1.1.0")
	r.run(ada, "", "tag", "v1.1") // not a release tag: ignored

	r.run(ada, "", "checkout", "-q", "-b", "topic")
	r.commit(ada, "perf(model): cache the tokenizer")
	r.run(ada, "", "checkout", "-q", "main")
	r.commit(grace, "feat(verify): smoke tests for staging")
	r.clock = r.clock.Add(time.Hour)
	r.run(grace, "", "merge", "-q", "--no-ff", "-m", "Merge branch 'topic'", "topic")
	r.run(ada, "", "tag", "v1.2.0-rc.1")
	r.run(ada, "", "tag", "v1.2.0")
	r.run(ada, "", "tag", "v1.2.1")
	r.run(ada, "", "tag", "nightly")
	return r.dir
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run `go test ./magefiles/releasenotes -update` to create %s", path)
	assert.Equal(t, string(want), got)
}

func TestGenerateGolden(t *testing.T) {
	dir := releaseHistory(t)
	deployed := []Deployment{
		{Env: "prod", Model: "main.agents.interrupt_agent", Version: "4", Endpoint: "interrupt-agent-prod"},
		{Env: "sandbox", Model: "main.agents.interrupt_agent", Version: "4"},
		{Env: "dev", Model: "main.agents.interrupt_agent", Version: "4", Endpoint: "interrupt-agent-dev"},
		{Env: "staging", Model: "main.agents.interrupt_agent", Version: "4", Endpoint: "interrupt-agent-staging"},
	}
	tests := []struct {
		name         string
		tag          string
		deployed     []Deployment
		wantPrevious string
		wantCommits  int
	}{
		{name: "first_release", tag: "v1.0.0", wantPrevious: "", wantCommits: 4},
		{name: "release_candidate", tag: "v1.1.0-rc.1", wantPrevious: "v1.0.0", wantCommits: 2},
		{name: "release_with_deployments", tag: "v1.1.0", deployed: deployed, wantPrevious: "v1.0.0", wantCommits: 7},
		{name: "prerelease_after_release", tag: "v1.2.0-rc.1", wantPrevious: "v1.1.0", wantCommits: 2},
		{name: "release_skips_candidates", tag: "v1.2.0", wantPrevious: "v1.1.0", wantCommits: 2},
		{name: "no_changes", tag: "v1.2.1", wantPrevious: "v1.2.0", wantCommits: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notes, err := Generate(context.Background(), dir, tt.tag, tt.deployed)
			require.NoError(t, err)
			assert.Equal(t, tt.tag, notes.Tag)
			assert.Equal(t, tt.wantPrevious, notes.Previous)
			assert.Len(t, notes.Commits, tt.wantCommits)
			for _, c := range notes.Commits {
				assert.Len(t, c.SHA, 40)
				assert.True(t, strings.HasPrefix(c.SHA, c.ShortSHA))
				assert.NotContains(t, c.Subject, "Merge branch")
			}
			golden(t, tt.name, notes.Markdown())
		})
	}
}

func TestGenerateGroupsCommits(t *testing.T) {
	dir := releaseHistory(t)
	notes, err := Generate(context.Background(), dir, "v1.1.0", nil)
	require.NoError(t, err)
	assert.False(t, notes.Prerelease)
	assert.Equal(t, time.Date(2025, 1, 6, 20, 0, 0, 0, time.UTC), notes.Date)

	got := map[string][]string{}
	for _, s := range notes.Sections() {
		for _, c := range s.Commits {
			got[s.Title] = append(got[s.Title], c.Type+"|"+c.Scope+"|"+c.Subject+"|"+c.Author)
		}
	}
	assert.Equal(t, map[string][]string{
		TitleBreaking: {
			"refactor||drop the legacy scorer|Linus Torvalds",
			"feat||canary weights for <T> endpoints|Grace Hopper",
			"feat|serving|rename the request field to `messages`|Ada Lovelace",
		},
		TitleFeatures: nil,
		TitleFixes: {
			"fix|verify|retry 503 from the endpoint|Grace Hopper",
			"fix|bundle|resolve ${var.catalog} in resources/*.yml|Linus Torvalds",
		},
		TitleOthers: {
			"ci||cache Go modules|Linus Torvalds",
			"docs|readme|explain rollback|Ada Lovelace",
		},
	}, map[string][]string{
		TitleBreaking: got[TitleBreaking], TitleFeatures: got[TitleFeatures],
		TitleFixes: got[TitleFixes], TitleOthers: got[TitleOthers],
	})
	// Titles come in their fixed order and empty ones are left out.
	var titles []string
	for _, s := range notes.Sections() {
		titles = append(titles, s.Title)
	}
	assert.Equal(t, []string{TitleBreaking, TitleFixes, TitleOthers}, titles)
}

func TestGenerateErrors(t *testing.T) {
	dir := releaseHistory(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		dir     string
		tag     string
		wantErr string
	}{
		{"tag that is not a release tag", context.Background(), dir, "nightly", `bad release tag "nightly": must start with v`},
		{"tag that does not exist", context.Background(), dir, "v9.9.9", "release notes v9.9.9: no such tag in " + dir},
		{"directory that is not a repository", context.Background(), t.TempDir(), "v1.0.0", "not a git repository"},
		{"directory that does not exist", context.Background(), filepath.Join(dir, "missing"), "v1.0.0", "release notes v1.0.0"},
		{"cancelled context", cancelled, dir, "v1.0.0", "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate(tt.ctx, tt.dir, tt.tag, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestGenerateWithoutGit(t *testing.T) {
	dir := releaseHistory(t)
	t.Setenv("PATH", t.TempDir())
	_, err := Generate(context.Background(), dir, "v1.0.0", nil)
	assert.ErrorContains(t, err, "git is not installed or not on PATH")
}

func TestMarkdownEscapesDeployments(t *testing.T) {
	n := &Notes{Tag: "v1.0.0", Deployed: []Deployment{
		{Env: "dev", Model: "a|b", Version: "1"},
		{Env: "prod", Model: "odd`name", Version: "", Endpoint: "e_p"},
	}}
	md := n.Markdown()
	assert.Contains(t, md, "| dev | `a\\|b` | 1 | — |\n")
	assert.Contains(t, md, "| prod | odd\\`name | — | `e_p` |\n")
}

func BenchmarkMarkdown(b *testing.B) {
	n := &Notes{Tag: "v2.0.0", Previous: "v1.0.0", Date: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	kinds := []string{"feat(api): add *thing*", "fix: y", "docs: z", "refactor!: w", "Plain message <x>"}
	for i := range 500 {
		c := ParseMessage(kinds[i%len(kinds)])
		c.Author, c.ShortSHA = "Ada Lovelace", "abcdef1"
		n.Commits = append(n.Commits, c)
	}
	for b.Loop() {
		_ = n.Markdown()
	}
}

func BenchmarkParseMessage(b *testing.B) {
	msg := "feat(serving)!: rename field\n\nBody text here.\n\nBREAKING CHANGE: clients must send\n`messages` now.\nRefs: #12\n"
	for b.Loop() {
		_ = ParseMessage(msg)
	}
}

// TestPreviousReleaseByAncestry: v1.0.1 is a hotfix tagged on a branch off
// v1.0.0 and never merged; v1.1.0 on main descends from v1.0.0 only, so
// its notes start at v1.0.0 and leave the hotfix's commit out, although
// v1.0.1 is the highest lower version.
func TestPreviousReleaseByAncestry(t *testing.T) {
	r := newGitRepo(t)
	r.commit(ada, "feat: first model")
	r.run(ada, "", "tag", "v1.0.0")
	r.run(ada, "", "checkout", "-q", "-b", "hotfix")
	r.commit(grace, "fix: hotfix only on the branch")
	r.run(grace, "", "tag", "v1.0.1")
	r.run(ada, "", "checkout", "-q", "main")
	r.commit(linus, "feat: the next release")
	r.run(linus, "", "tag", "v1.1.0")

	n, err := Generate(context.Background(), r.dir, "v1.1.0", nil)
	require.NoError(t, err)
	assert.Equal(t, "v1.0.0", n.Previous)
	md := n.Markdown()
	assert.Contains(t, md, "the next release")
	assert.NotContains(t, md, "hotfix only on the branch")

	hot, err := Generate(context.Background(), r.dir, "v1.0.1", nil)
	require.NoError(t, err)
	assert.Equal(t, "v1.0.0", hot.Previous, "the hotfix's own notes start at what it descends from")
}
