package checks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/checks/secretscan"
	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
)

// plantedAWSKey is assembled at run time so that no source file holds it.
var plantedAWSKey = "AKIA" + "QYLPMN5HHHFPZAM2"

func TestSecretsCheck(t *testing.T) {
	root := fixture(t)
	git(t, root, "init", "-q")
	gitCommitAll(t, root, "fixture")
	cfg := testConfig(t, root, env{})

	res, _ := runOne(t, cfg, Secrets(cfg))
	require.Equal(t, pipeline.StatusPass, res.Status, res.Error)
	assert.Equal(t, "no secrets in the working tree", res.Summary)

	appendFile(t, root, "src/fixture/core.py", "\nACCESS_KEY_ID = \""+plantedAWSKey+"\"\n")
	rep, out := run(t, cfg, []pipeline.Task{Secrets(cfg)}, func(o *pipeline.Options) { o.NoCache = true })
	res, _ = rep.Result("secrets")
	require.Equal(t, pipeline.StatusFail, res.Status)
	assert.Contains(t, res.Error, "src/fixture/core.py:42: aws-access-token")
	assert.Contains(t, res.Error, "ci:secretsBaseline")
	assert.True(t, findingAt(res.Findings, "src/fixture/core.py", 42, "aws-access-token"), "%+v", res.Findings)

	t.Run("the secret is never printed or written", func(t *testing.T) {
		require.NoError(t, rep.WriteJSON(filepath.Join(root, "artifacts", "ci-report.json")))
		for _, p := range []string{"artifacts/ci-report.json", "artifacts/security/secrets.sarif"} {
			assert.NotContains(t, readFile(t, root, p), plantedAWSKey[4:], p)
		}
		assert.NotContains(t, out, plantedAWSKey[4:])
		assert.NotContains(t, res.Error, plantedAWSKey[4:])
	})

	t.Run("accepting it into the baseline makes the check pass", func(t *testing.T) {
		added, err := AcceptSecrets(context.Background(), root, false, "fake key in a test fixture")
		require.NoError(t, err)
		require.Len(t, added, 1)
		assert.NotContains(t, readFile(t, root, secretscan.BaselineFile), plantedAWSKey[4:])
		res, _ := runOne(t, cfg, Secrets(cfg))
		require.Equal(t, pipeline.StatusPass, res.Status, res.Error)
		assert.Equal(t, "no new secrets in the working tree (1 accepted in the baseline)", res.Summary)
	})

	t.Run("a new secret fails despite the baseline", func(t *testing.T) {
		appendFile(t, root, "src/fixture/core.py", "SECOND_KEY = \"AKIA"+"RT7ZQ4MXW2NB6KDL\"\n")
		res, _ := runOne(t, cfg, Secrets(cfg))
		require.Equal(t, pipeline.StatusFail, res.Status)
		assert.Contains(t, res.Error, "1 new secret(s); first: src/fixture/core.py:43")
	})
}

func TestSecretsHistoryMode(t *testing.T) {
	root := fixture(t)
	git(t, root, "init", "-q")
	appendFile(t, root, "src/fixture/core.py", "\nACCESS_KEY_ID = \""+plantedAWSKey+"\"\n")
	gitCommitAll(t, root, "add a key")
	writeFile(t, root, "src/fixture/core.py", readFile(t, filepath.Join("testdata", "repo"), "src/fixture/core.py"))
	gitCommitAll(t, root, "remove the key")

	tree := testConfig(t, root, env{})
	res, _ := runOne(t, tree, Secrets(tree))
	require.Equal(t, pipeline.StatusPass, res.Status, "the working tree is clean: %s", res.Error)

	deep := tree
	deep.History = true
	res, _ = runOne(t, deep, Secrets(deep))
	require.Equal(t, pipeline.StatusFail, res.Status)
	assert.Contains(t, res.Summary, "1 new secret(s) in all commits")
	assert.Regexp(t, `first: [0-9a-f]{10}:src/fixture/core.py:42: aws-access-token`, res.Error)

	t.Run("history mode is keyed by the refs", func(t *testing.T) {
		v1, err := Secrets(deep).Inputs.Version(context.Background())
		require.NoError(t, err)
		writeFile(t, root, "notes.txt", "x\n")
		gitCommitAll(t, root, "another commit")
		v2, err := Secrets(deep).Inputs.Version(context.Background())
		require.NoError(t, err)
		assert.NotEqual(t, v1, v2)
	})

	t.Run("outside a repository history mode skips", func(t *testing.T) {
		plain := fixture(t)
		cfg := testConfig(t, plain, env{})
		cfg.History = true
		res, _ := runOne(t, cfg, pipeline.Task{Name: "secrets", Run: Secrets(cfg).Run})
		assert.Equal(t, pipeline.StatusSkipped, res.Status)
		assert.True(t, strings.HasPrefix(res.Reason, "not a git repository"))
	})
}

func TestSecretsBadBaselineFails(t *testing.T) {
	root := fixture(t)
	writeFile(t, root, secretscan.BaselineFile, "{\"version\": 7}")
	cfg := testConfig(t, root, env{})
	res, _ := runOne(t, cfg, Secrets(cfg))
	assert.Equal(t, pipeline.StatusFail, res.Status)
	assert.Contains(t, res.Error, "version 7")
	require.NoError(t, os.Remove(filepath.Join(root, secretscan.BaselineFile)))
}
