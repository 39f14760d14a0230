package secretscan

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Secrets are assembled at run time so that this file holds none.
var (
	awsKey  = "AKIA" + "QYLPMN5HHHFPZAM2"
	awsKey2 = "AKIA" + "RT7ZQ4MXW2NB6KDL"
)

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=Test", "-c", "user.email=test@example.invalid",
		"-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
}

func commit(t *testing.T, dir, msg string) {
	t.Helper()
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", msg)
}

func scan(t *testing.T, root string, history bool) []Finding {
	t.Helper()
	fs, err := Scan(context.Background(), root, Options{History: history, Skip: []string{BaselineFile}})
	require.NoError(t, err)
	return fs
}

func TestScanWorkingTree(t *testing.T) {
	root := t.TempDir()
	git(t, root, "init", "-q")
	write(t, root, "src/app/settings.py", "REGION = \"eu-west-1\"\nACCESS_KEY_ID = \""+awsKey+"\"\n")
	write(t, root, "README.md", "nothing to see\n")
	write(t, root, ".gitignore", "ignored.txt\n")
	write(t, root, "ignored.txt", "KEY = \""+awsKey2+"\"\n")          // ignored by git: never pushed
	write(t, root, "artifacts/report.txt", "KEY = \""+awsKey2+"\"\n") // run output, not source
	write(t, root, ".cache/tool.txt", "KEY = \""+awsKey2+"\"\n")

	fs := scan(t, root, false)
	require.Len(t, fs, 1, "%+v", fs)
	f := fs[0]
	assert.Equal(t, "src/app/settings.py", f.File)
	assert.Equal(t, 2, f.Line)
	assert.Equal(t, "aws-access-token", f.Rule)
	assert.Equal(t, "src/app/settings.py:2", f.Location())
	assert.Len(t, f.Fingerprint, 32)
	assert.NotContains(t, f.Fingerprint, awsKey)
	assert.NotContains(t, strings.Join([]string{f.File, f.Rule, f.Description, f.Fingerprint}, " "), awsKey)
}

func TestScanOutsideGitWalksTheTree(t *testing.T) {
	root := t.TempDir()
	write(t, root, "conf/app.env", "AWS_ACCESS_KEY_ID="+awsKey+"\n")
	write(t, root, ".cache/x.env", "AWS_ACCESS_KEY_ID="+awsKey2+"\n")
	fs := scan(t, root, false)
	require.Len(t, fs, 1)
	assert.Equal(t, "conf/app.env", fs[0].File)

	_, err := Scan(context.Background(), root, Options{History: true})
	require.ErrorIs(t, err, ErrNoHistory)
}

func TestScanHistoryFindsRemovedSecrets(t *testing.T) {
	root := t.TempDir()
	git(t, root, "init", "-q")
	write(t, root, "app.py", "x = 1\n")
	commit(t, root, "start")
	write(t, root, "app.py", "x = 1\nKEY = \""+awsKey+"\"\n")
	commit(t, root, "oops")
	write(t, root, "app.py", "x = 1\n")
	commit(t, root, "remove the key")

	assert.Empty(t, scan(t, root, false), "the tree is clean now")
	hist := scan(t, root, true)
	require.Len(t, hist, 1)
	assert.Equal(t, "app.py", hist[0].File)
	assert.Equal(t, 2, hist[0].Line)
	assert.Len(t, hist[0].Commit, 40)
	assert.Contains(t, hist[0].Location(), ":app.py:2")
}

func TestBaselineSemantics(t *testing.T) {
	root := t.TempDir()
	git(t, root, "init", "-q")
	write(t, root, "src/settings.py", "KEY = \""+awsKey+"\"\n")
	commit(t, root, "accepted key")

	bl, err := LoadBaseline(filepath.Join(root, BaselineFile))
	require.NoError(t, err)
	require.Empty(t, bl.Accepted, "a missing baseline accepts nothing")
	found := scan(t, root, false)
	require.Len(t, found, 1)
	assert.Equal(t, 1, bl.Add(found, "fake key in a fixture"))
	assert.Equal(t, 0, bl.Add(found, "again"), "adding twice keeps one entry")
	require.NoError(t, bl.Write(filepath.Join(root, BaselineFile)))

	b, err := os.ReadFile(filepath.Join(root, BaselineFile))
	require.NoError(t, err)
	assert.NotContains(t, string(b), awsKey, "the baseline never stores the secret")
	assert.NotContains(t, string(b), awsKey[4:])

	reload := func() *Baseline {
		bl, err := LoadBaseline(filepath.Join(root, BaselineFile))
		require.NoError(t, err)
		return bl
	}
	fresh := func() []Finding {
		f, _ := reload().Split(scan(t, root, false))
		return f
	}

	t.Run("accepted finding passes", func(t *testing.T) {
		assert.Empty(t, fresh())
	})
	t.Run("moving the line keeps it accepted", func(t *testing.T) {
		write(t, root, "src/settings.py", "# settings\n\nKEY = \""+awsKey+"\"\n")
		assert.Empty(t, fresh())
	})
	t.Run("a new secret in the same file is new", func(t *testing.T) {
		write(t, root, "src/settings.py", "KEY = \""+awsKey+"\"\nOTHER = \""+awsKey2+"\"\n")
		got := fresh()
		require.Len(t, got, 1)
		assert.Equal(t, 2, got[0].Line)
	})
	t.Run("the accepted secret copied to another file is new", func(t *testing.T) {
		write(t, root, "src/settings.py", "KEY = \""+awsKey+"\"\n")
		write(t, root, "src/copy.py", "KEY = \""+awsKey+"\"\n")
		got := fresh()
		require.Len(t, got, 1)
		assert.Equal(t, "src/copy.py", got[0].File)
		require.NoError(t, os.Remove(filepath.Join(root, "src", "copy.py")))
	})
	t.Run("the accepted finding also covers its commit in history", func(t *testing.T) {
		hist := scan(t, root, true)
		require.NotEmpty(t, hist)
		f, accepted := reload().Split(hist)
		assert.Empty(t, f)
		assert.Len(t, accepted, 1)
	})
	t.Run("the baseline file itself is not scanned", func(t *testing.T) {
		for _, f := range scan(t, root, false) {
			assert.NotEqual(t, BaselineFile, f.File)
		}
	})
}

func TestLoadBaselineRejectsBadFiles(t *testing.T) {
	tests := map[string]string{
		"not json":      "{",
		"wrong version": `{"version": 2, "accepted": []}`,
		"empty entry":   `{"version": 1, "accepted": [{"file": "a.py"}]}`,
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), BaselineFile)
			require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
			_, err := LoadBaseline(p)
			require.Error(t, err)
		})
	}
}

func TestVersionNamesTheLibrary(t *testing.T) {
	assert.Contains(t, Version(), "github.com/zricethezav/gitleaks/v8")
}
