package checks

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// The checks' tests run the real tools on copies of testdata/repo, a tiny
// repository with a Go package, a Python payload with unit tests, a
// bundle and requirements. Each test plants what it needs in its copy.

// copyTree copies dir src into dst.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	require.NoError(t, err)
}

// fixture returns a fresh copy of testdata/repo.
func fixture(t testing.TB) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "repo")
	copyTree(t, filepath.Join("testdata", "repo"), dst)
	return dst
}

func writeFile(t testing.TB, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

func appendFile(t testing.TB, root, rel, content string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	require.NoError(t, err)
	writeFile(t, root, rel, string(b)+content)
}

func readFile(t testing.TB, root, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	require.NoError(t, err)
	return string(b)
}

// repoToolsDir is this repository's tool cache: tests use the Go tools
// `mage ci` already built and never build them (minutes) themselves.
func repoToolsDir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	root, err := project.RootFrom(wd)
	require.NoError(t, err)
	return toolchain.ToolsDir(root)
}

// requireTool skips the test when the pinned tool is not built yet.
func requireTool(t testing.TB, name string) {
	t.Helper()
	if !toolchain.Installed(repoToolsDir(t), toolchain.Tool(name)) {
		t.Skipf("%s is not built yet (go run mage.go ci:%s builds it); its parsing is covered by the committed golden output", toolchain.Tool(name).ID(), name)
	}
}

// env is a fixed environment for a test: nothing leaks in from the
// developer's shell.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// repoPythons finds interpreters with this repository's probe cache, as
// `mage ci` does: tests do not start an interpreter a run already asked.
func repoPythons(t testing.TB) *toolchain.Pythons {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	root, err := project.RootFrom(wd)
	require.NoError(t, err)
	return toolchain.NewPythons(toolchain.PythonCacheDir(root))
}

// testConfig is a Config for a fixture: its own environment, the repo's
// tool and interpreter caches, and the matrix of the one interpreter there is.
func testConfig(t testing.TB, root string, e env) Config {
	return Config{Root: root, Getenv: e.get, ToolsDir: repoToolsDir(t), Python: repoPythons(t), Pythons: []string{"3.11"}}
}

// run runs the tasks through the real runner and returns the report and
// everything it printed.
func run(t testing.TB, cfg Config, tasks []pipeline.Task, mutate ...func(*pipeline.Options)) (*pipeline.Report, string) {
	t.Helper()
	var out bytes.Buffer
	opts := pipeline.Options{Root: cfg.Root, Out: &out, Getenv: cfg.getenv, Jobs: 2}
	for _, m := range mutate {
		m(&opts)
	}
	rep, err := pipeline.Run(context.Background(), tasks, opts)
	if rep == nil {
		require.NoError(t, err)
	}
	return rep, out.String()
}

// runOne runs a single task and returns its result and output.
func runOne(t testing.TB, cfg Config, task pipeline.Task) (pipeline.Result, string) {
	t.Helper()
	rep, out := run(t, cfg, []pipeline.Task{task}, func(o *pipeline.Options) { o.NoCache = true })
	r, ok := rep.Result(task.Name)
	require.True(t, ok)
	return r, out
}

// git runs git in dir with a fixed identity.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=Test", "-c", "user.email=test@example.invalid",
		"-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %s: %s", strings.Join(args, " "), out)
	return string(out)
}

func gitCommitAll(t testing.TB, dir, msg string) {
	t.Helper()
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", msg)
}

// findingAt reports whether a finding is at file:line with the rule.
func findingAt(fs []pipeline.Finding, file string, line int, rule string) bool {
	for _, f := range fs {
		if f.File == file && (line == 0 || f.Line == line) && (rule == "" || strings.Contains(f.Rule, rule)) {
			return true
		}
	}
	return false
}
