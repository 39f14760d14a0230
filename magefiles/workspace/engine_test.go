package workspace

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeCLI writes a databricks script that records its arguments and
// environment, and exits with code.
func fakeCLI(t *testing.T, code int) (bin, record string) {
	dir := t.TempDir()
	record = filepath.Join(dir, "calls.txt")
	bin = filepath.Join(dir, CLIName)
	script := "#!/bin/sh\n" +
		"echo \"args: $*\" >> " + record + "\n" +
		"echo \"host: $DATABRICKS_HOST\" >> " + record + "\n" +
		"echo \"pwd: $(pwd)\" >> " + record + "\n" +
		"echo \"Deploying with token $DATABRICKS_TOKEN\"\n" +
		"exit " + string(rune('0'+code)) + "\n"
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o755))
	return bin, record
}

func TestSelectEngine(t *testing.T) {
	found := func(string) (string, error) { return "/usr/local/bin/databricks", nil }
	missing := func(string) (string, error) { return "", exec.ErrNotFound }
	tests := []struct {
		name, engine string
		look         func(string) (string, error)
		want         string
		wantErr      string
	}{
		{"auto with the CLI", "", found, EngineCLI, ""},
		{"auto without the CLI", "auto", missing, EngineSDK, ""},
		{"sdk chosen", "sdk", found, EngineSDK, ""},
		{"cli chosen", "CLI", found, EngineCLI, ""},
		{"cli chosen but missing", "cli", missing, "", "the databricks CLI is not on PATH: install it, or use the native engine with -engine=sdk"},
		{"unknown", "terraform", found, "", `unknown deploy engine "terraform": want sdk, cli or auto`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := SelectEngine(tt.engine, tt.look)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, e.Name())
		})
	}
}

func TestCLIEngineRunsBundleDeploy(t *testing.T) {
	bin, record := fakeCLI(t, 0)
	root := t.TempDir()
	t.Setenv("DATABRICKS_TOKEN", "dapi-secret-token-123")
	var out bytes.Buffer
	res, err := (&CLIEngine{Bin: bin}).Deploy(context.Background(),
		&Client{Host: "https://adb-1.azuredatabricks.net"},
		DeployRequest{Target: "staging", BundleRoot: root, Out: &out})
	require.NoError(t, err)
	assert.Equal(t, EngineCLI, res.Engine)
	calls, err := os.ReadFile(record)
	require.NoError(t, err)
	assert.Contains(t, string(calls), "args: bundle deploy -t staging")
	assert.Contains(t, string(calls), "host: https://adb-1.azuredatabricks.net", "the CLI talks to the checked host")
	realRoot, _ := filepath.EvalSymlinks(root)
	assert.Contains(t, string(calls), "pwd: "+realRoot)
	assert.Contains(t, out.String(), "Deploying with token ***")
	assert.NotContains(t, out.String(), "dapi-secret-token-123", "secrets are masked in the CLI's output")
}

func TestCLIEngineFailure(t *testing.T) {
	bin, _ := fakeCLI(t, 2)
	_, err := (&CLIEngine{Bin: bin}).Deploy(context.Background(), nil, DeployRequest{Target: "dev", BundleRoot: t.TempDir()})
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "deploy dev with the CLI") && strings.Contains(err.Error(), "exit status 2"), err.Error())
}
