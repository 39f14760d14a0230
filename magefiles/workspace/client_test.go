package workspace

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

func startEmulator(t *testing.T) *emulator.Server {
	t.Helper()
	srv, err := emulator.Start(emulator.Options{LegacyRegistry: true}) // the bundle still declares workspace-registry models
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// connect makes a client for the emulator as a deploy would.
func connect(t *testing.T, srv *emulator.Server) *Client {
	t.Helper()
	c, err := Connect(context.Background(), Target{Name: "dev", Host: srv.URL()},
		Options{Getenv: envOf(map[string]string{"DATABRICKS_TOKEN": srv.Token()}), SkipConfigFile: true, RateLimitPerSecond: 10000})
	require.NoError(t, err)
	return c
}

func TestConnect(t *testing.T) {
	srv := startEmulator(t)
	other := startEmulator(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		target   Target
		env      map[string]string
		wantErr  []string
		requests bool // whether the workspace may see requests
	}{
		{
			name:     "token for the target's host",
			target:   Target{Name: "dev", Host: srv.URL()},
			env:      map[string]string{"DATABRICKS_TOKEN": srv.Token()},
			requests: true,
		},
		{
			name:     "same host written differently",
			target:   Target{Name: "dev", Host: strings.ToUpper(srv.URL()) + "/"},
			env:      map[string]string{"DATABRICKS_TOKEN": srv.Token(), "DATABRICKS_HOST": srv.URL()},
			requests: true,
		},
		{
			name:    "credentials for another workspace",
			target:  Target{Name: "prod", Host: srv.URL()},
			env:     map[string]string{"DATABRICKS_TOKEN": srv.Token(), "DATABRICKS_HOST": other.URL()},
			wantErr: []string{"target prod deploys to " + srv.URL(), "credentials are for " + other.URL(), "from DATABRICKS_HOST", "refusing"},
		},
		{
			name:   "no credentials at all",
			target: Target{Name: "staging", Host: srv.URL()},
			env:    map[string]string{},
			wantErr: []string{"no Databricks credentials for target staging", "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID + DATABRICKS_CLIENT_SECRET",
				"GitHub OIDC", "DATABRICKS_CONFIG_PROFILE"},
		},
		{
			name:     "token the workspace rejects",
			target:   Target{Name: "dev", Host: srv.URL()},
			env:      map[string]string{"DATABRICKS_TOKEN": "dapi-wrong"},
			wantErr:  []string{"credentials rejected"},
			requests: true,
		},
		{
			name:    "target without host",
			target:  Target{Name: "dev"},
			env:     map[string]string{"DATABRICKS_TOKEN": srv.Token()},
			wantErr: []string{"target dev has no workspace.host"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetRequests()
			c, err := Connect(ctx, tt.target, Options{Getenv: envOf(tt.env), SkipConfigFile: true})
			if len(tt.wantErr) > 0 {
				require.Error(t, err)
				for _, w := range tt.wantErr {
					assert.Contains(t, err.Error(), w)
				}
				assert.NotContains(t, err.Error(), srv.Token(), "the token never appears in a message")
			} else {
				require.NoError(t, err)
				assert.Equal(t, srv.UserName(), c.User)
				assert.Equal(t, "pat", c.AuthType)
				assert.Equal(t, strings.ToLower(srv.URL()), c.Host)
			}
			assert.Empty(t, srv.MutatingRequests(), "connecting changes nothing")
			if !tt.requests {
				// The SDK's credential probing may read OAuth discovery
				// documents; no API is called.
				for _, r := range srv.Requests() {
					assert.NotContains(t, r.Path, "/api/", "refused before any API request")
				}
			}
		})
	}
}

func TestConnectErrorTypes(t *testing.T) {
	srv := startEmulator(t)
	ctx := context.Background()
	_, err := Connect(ctx, Target{Name: "prod", Host: srv.URL()}, Options{Getenv: envOf(map[string]string{
		"DATABRICKS_TOKEN": "x", "DATABRICKS_HOST": "https://dev.example.com"}), SkipConfigFile: true})
	var hm *HostMismatchError
	require.ErrorAs(t, err, &hm)
	assert.Equal(t, "https://dev.example.com", hm.CredHost)

	_, err = Connect(ctx, Target{Name: "prod", Host: srv.URL()}, Options{Getenv: envOf(nil), SkipConfigFile: true})
	var mc *MissingCredentialsError
	require.ErrorAs(t, err, &mc)
}

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"https://ADB-1.azuredatabricks.net/":     "https://adb-1.azuredatabricks.net",
		"adb-1.azuredatabricks.net":              "https://adb-1.azuredatabricks.net",
		"https://adb-1.azuredatabricks.net:443":  "https://adb-1.azuredatabricks.net",
		"http://127.0.0.1:8080/some/path?x=1":    "http://127.0.0.1:8080",
		" https://dbc-1.cloud.databricks.com/ ":  "https://dbc-1.cloud.databricks.com",
		"https://dbc-1.cloud.databricks.com:444": "https://dbc-1.cloud.databricks.com:444",
	} {
		got, err := NormalizeHost(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := NormalizeHost("https://")
	assert.Error(t, err)
	assert.True(t, SameHost("https://a.example.com/", "A.example.com"))
	assert.False(t, SameHost("https://a.example.com", "https://b.example.com"))
}
