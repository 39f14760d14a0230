package demo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

// repo is the demo's temporary git repository: a copy of the project's
// bundle whose targets point at their own emulated workspaces.
type repo struct{ dir string }

// newRepo copies the bundle from root into dir, points each target's
// workspace.host at its host (hosts by target name) and makes the first
// commit on main.
func newRepo(root, dir string, hosts map[string]string) (*repo, error) {
	if err := project.CopyBundleHosts(root, dir, hosts); err != nil {
		return nil, err
	}
	// Reports the runs write stay out of the commits (a dirty tree is
	// allowed, but a clean one reads better in the release lines).
	if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("artifacts/\n"), 0o644); err != nil {
		return nil, err
	}
	r := &repo{dir: dir}
	if err := r.git("init", "--quiet", "--initial-branch=main"); err != nil {
		return nil, err
	}
	return r, r.commit("feat: human interrupt agent with risk-based approvals")
}

// commit commits everything, recording msg in a change log under src/ so
// each release has a change of its own.
func (r *repo) commit(msg string) error {
	p := filepath.Join(r.dir, "src", "human_interrupt_agent", "CHANGES.txt")
	// #nosec G304 -- a fixed file in the demo's own scratch repository
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(msg + "\n"); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := r.git("add", "."); err != nil {
		return err
	}
	return r.git("commit", "--quiet", "-m", msg)
}

func (r *repo) tag(tag string) error { return r.git("tag", tag) }

// git runs git in the repository, isolated from the user's configuration.
func (r *repo) git(args ...string) error {
	// #nosec G204 -- git, a fixed program, on the demo's own scratch repository; no shell
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=demo", "GIT_AUTHOR_EMAIL=demo@example.com",
		"GIT_COMMITTER_NAME=demo", "GIT_COMMITTER_EMAIL=demo@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
