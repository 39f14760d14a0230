package release

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repo is a real git repository in a temporary directory.
type repo struct {
	t   *testing.T
	dir string
}

func newRepo(t *testing.T) *repo {
	t.Helper()
	r := &repo{t: t, dir: t.TempDir()}
	r.git("init", "--quiet", "--initial-branch=main")
	r.commit("initial")
	return r
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	// Isolated from the user's git config so tests behave the same everywhere.
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.com")
	out, err := cmd.CombinedOutput()
	require.NoError(r.t, err, "git %v: %s", args, out)
	return string(out)
}

func (r *repo) commit(msg string) {
	r.t.Helper()
	require.NoError(r.t, os.WriteFile(filepath.Join(r.dir, "file.txt"), []byte(msg), 0o644))
	r.git("add", "file.txt")
	r.git("commit", "--quiet", "-m", msg)
}

func (r *repo) head() string {
	sha, err := Git{Dir: r.dir}.Resolve(context.Background(), "HEAD")
	require.NoError(r.t, err)
	return sha
}

func TestResolveIdentity(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		setup   func(r *repo)
		opts    IdentityOptions
		wantTag string
		wantErr string
		is      error
	}{
		{
			name:    "stable tag on main goes to prod",
			setup:   func(r *repo) { r.git("tag", "v1.2.3") },
			opts:    IdentityOptions{Env: "prod", Production: true},
			wantTag: "v1.2.3",
		},
		{
			name:    "annotated tag works like a lightweight one",
			setup:   func(r *repo) { r.git("tag", "-a", "v1.2.4", "-m", "release") },
			opts:    IdentityOptions{Env: "prod", Production: true},
			wantTag: "v1.2.4",
		},
		{
			name:    "prerelease goes to staging",
			setup:   func(r *repo) { r.git("tag", "v1.3.0-rc.1") },
			opts:    IdentityOptions{Env: "staging"},
			wantTag: "v1.3.0-rc.1",
		},
		{
			name:    "prerelease refused for prod",
			setup:   func(r *repo) { r.git("tag", "v1.3.0-rc.1") },
			opts:    IdentityOptions{Env: "prod", Production: true},
			wantErr: "prereleases go to dev and staging only; tag a stable release (e.g. v1.3.0) for prod",
			is:      ErrPrerelease,
		},
		{
			name:    "highest of several tags wins, stable over its rc",
			setup:   func(r *repo) { r.git("tag", "v1.3.0-rc.2"); r.git("tag", "v1.3.0"); r.git("tag", "latest") },
			opts:    IdentityOptions{Env: "prod", Production: true},
			wantTag: "v1.3.0",
		},
		{
			name:    "two-number tag rejected",
			setup:   func(r *repo) { r.git("tag", "v1.2") },
			opts:    IdentityOptions{Env: "dev"},
			wantErr: `bad release tag "v1.2"`,
		},
		{
			name:    "tag without v rejected",
			setup:   func(r *repo) { r.git("tag", "1.2.3") },
			opts:    IdentityOptions{Env: "dev"},
			wantErr: "did you mean v1.2.3?",
		},
		{
			name:    "no tag at all",
			setup:   func(r *repo) {},
			opts:    IdentityOptions{Env: "dev"},
			wantErr: "no release tag on HEAD: tag it",
			is:      ErrNoTag,
		},
		{
			name:    "only non-version tags",
			setup:   func(r *repo) { r.git("tag", "demo") },
			opts:    IdentityOptions{Env: "dev"},
			wantErr: "its tags (demo) are not versions",
			is:      ErrNoTag,
		},
		{
			name:    "tag on an older commit is not HEAD's",
			setup:   func(r *repo) { r.git("tag", "v1.0.0"); r.commit("next") },
			opts:    IdentityOptions{Env: "dev"},
			is:      ErrNoTag,
			wantErr: "no release tag",
		},
		{
			name:    "override for dev",
			setup:   func(r *repo) {},
			opts:    IdentityOptions{Env: "dev", Override: "v0.9.0-dev.3", AllowOverride: true},
			wantTag: "v0.9.0-dev.3",
		},
		{
			name:    "override wins over the tag for dev",
			setup:   func(r *repo) { r.git("tag", "v1.0.0") },
			opts:    IdentityOptions{Env: "dev", Override: "v1.0.1-dev.1", AllowOverride: true},
			wantTag: "v1.0.1-dev.1",
		},
		{
			name:    "bad override rejected",
			setup:   func(r *repo) {},
			opts:    IdentityOptions{Env: "dev", Override: "v1.2", AllowOverride: true},
			wantErr: `bad release tag "v1.2"`,
		},
		{
			name:    "override refused outside dev",
			setup:   func(r *repo) { r.git("tag", "v1.0.0") },
			opts:    IdentityOptions{Env: "staging", Override: "v1.0.1"},
			wantErr: "an explicit release is accepted for dev only",
			is:      ErrOverrideDenied,
		},
		{
			name: "prod tag on a branch not merged to main",
			setup: func(r *repo) {
				r.git("checkout", "--quiet", "-b", "feature")
				r.commit("feature work")
				r.git("tag", "v2.0.0")
			},
			opts:    IdentityOptions{Env: "prod", Production: true},
			wantErr: "prod deploys only tags whose commit is on main",
			is:      ErrNotOnMain,
		},
		{
			name: "staging accepts a tag off main",
			setup: func(r *repo) {
				r.git("checkout", "--quiet", "-b", "feature")
				r.commit("feature work")
				r.git("tag", "v2.0.0-rc.1")
			},
			opts:    IdentityOptions{Env: "staging"},
			wantTag: "v2.0.0-rc.1",
		},
		{
			name: "CI checkout: detached HEAD, main only as origin/main",
			setup: func(r *repo) {
				r.git("tag", "v3.0.0")
				r.git("update-ref", "refs/remotes/origin/main", "HEAD")
				r.git("checkout", "--quiet", "--detach", "HEAD")
				r.git("branch", "-D", "main")
			},
			opts:    IdentityOptions{Env: "prod", Production: true},
			wantTag: "v3.0.0",
		},
		{
			name: "no main branch anywhere",
			setup: func(r *repo) {
				r.git("tag", "v3.0.0")
				r.git("checkout", "--quiet", "--detach", "HEAD")
				r.git("branch", "-D", "main")
			},
			opts:    IdentityOptions{Env: "prod", Production: true},
			wantErr: "cannot find the main branch (tried main, origin/main): fetch it",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t)
			tt.setup(r)
			id, err := ResolveIdentity(ctx, Git{Dir: r.dir}, tt.opts)
			if tt.wantErr != "" || tt.is != nil {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				if tt.is != nil {
					assert.ErrorIs(t, err, tt.is)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantTag, id.Tag)
			assert.Equal(t, r.head(), id.SHA)
			assert.Equal(t, tt.opts.Env, id.Env)
			assert.Len(t, id.SHA, 40)
		})
	}
}

func TestGitFacts(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	r.git("tag", "v1.0.0")
	facts, err := Git{Dir: r.dir}.Facts(ctx)
	require.NoError(t, err)
	assert.Equal(t, "main", facts.Branch)
	assert.Equal(t, []string{"v1.0.0"}, facts.Tags)
	assert.False(t, facts.Dirty)

	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "file.txt"), []byte("changed"), 0o644))
	facts, err = Git{Dir: r.dir}.Facts(ctx)
	require.NoError(t, err)
	assert.True(t, facts.Dirty)

	_, err = Git{Dir: t.TempDir()}.Facts(ctx)
	assert.Error(t, err, "not a repository")
}

// Facts reads git status's porcelain v2 headers (git-status(1), "Porcelain
// Format Version 2": branch.oid is "(initial)" before the first commit,
// branch.head "(detached)" off a branch). Held here against the git this
// machine runs: each case also asks git the question the old way, one
// command per fact, and the answers must agree.
func TestGitFactsAgreeWithOneCommandPerFact(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		setup func(r *repo)
	}{
		{"on a branch, clean", func(r *repo) {}},
		{"tags, lightweight and annotated", func(r *repo) {
			r.git("tag", "v1.0.0")
			r.git("tag", "-a", "-m", "release", "v1.0.1")
		}},
		{"detached HEAD with a tag (a CI tag checkout)", func(r *repo) {
			r.commit("second")
			r.git("tag", "v2.0.0")
			r.git("checkout", "--quiet", "--detach", "v2.0.0")
		}},
		{"a branch name with a slash", func(r *repo) { r.git("checkout", "--quiet", "-b", "release/1.x") }},
		{"staged change", func(r *repo) {
			require.NoError(t, os.WriteFile(filepath.Join(r.dir, "file.txt"), []byte("staged"), 0o644))
			r.git("add", "file.txt")
		}},
		{"untracked file only: not dirty", func(r *repo) {
			require.NoError(t, os.WriteFile(filepath.Join(r.dir, "new.txt"), []byte("new"), 0o644))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRepo(t)
			c.setup(r)
			facts, err := Git{Dir: r.dir}.Facts(ctx)
			require.NoError(t, err)

			branch, _ := Git{Dir: r.dir}.run(ctx, "symbolic-ref", "--quiet", "--short", "HEAD")
			tags, err := Git{Dir: r.dir}.TagsAt(ctx, "HEAD")
			require.NoError(t, err)
			status, err := Git{Dir: r.dir}.run(ctx, "status", "--porcelain", "--untracked-files=no")
			require.NoError(t, err)
			assert.Equal(t, GitFacts{SHA: r.head(), Branch: branch, Tags: tags, Dirty: status != ""}, facts)
		})
	}

	t.Run("no commit yet", func(t *testing.T) {
		r := &repo{t: t, dir: t.TempDir()}
		r.git("init", "--quiet", "--initial-branch=main")
		_, err := Git{Dir: r.dir}.Facts(ctx)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not a commit")
	})
}
