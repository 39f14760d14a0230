package verify

import (
	"context"
	"net/http"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTuneForLoad(t *testing.T) {
	tests := []struct {
		name        string
		cfg         func() *databricks.Config
		concurrency int
		wantRate    int
		wantIdle    int
		keepsOwn    bool
		insecure    bool
	}{
		{name: "defaults raised", concurrency: 8, wantRate: 8000, wantIdle: 8},
		{name: "a higher rate is kept", cfg: func() *databricks.Config { return &databricks.Config{RateLimitPerSecond: 50000} }, concurrency: 2, wantRate: 50000, wantIdle: 2},
		{name: "zero workers count as one", concurrency: 0, wantRate: 1000, wantIdle: 1},
		{name: "own transport is left alone", cfg: func() *databricks.Config { return &databricks.Config{HTTPTransport: http.DefaultTransport} }, concurrency: 4, wantRate: 4000, keepsOwn: true},
		{name: "skip-verify survives", cfg: func() *databricks.Config { return &databricks.Config{InsecureSkipVerify: true} }, concurrency: 4, wantRate: 4000, wantIdle: 4, insecure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &databricks.Config{}
			if tt.cfg != nil {
				cfg = tt.cfg()
			}
			TuneForLoad(cfg, tt.concurrency)
			assert.Equal(t, tt.wantRate, cfg.RateLimitPerSecond)
			if tt.keepsOwn {
				assert.Same(t, http.DefaultTransport, cfg.HTTPTransport)
				return
			}
			tr, ok := cfg.HTTPTransport.(*http.Transport)
			require.True(t, ok)
			assert.Equal(t, tt.wantIdle, tr.MaxIdleConnsPerHost)
			assert.Equal(t, tt.insecure, tr.TLSClientConfig != nil && tr.TLSClientConfig.InsecureSkipVerify)
		})
	}
}

func TestTunedClientQueries(t *testing.T) {
	f, _ := newFakeServing(t, faults{})
	cfg := &databricks.Config{
		Host: f.url, Token: "t", AuthType: "pat",
		Credentials: config.PatCredentials{}, Loaders: []config.Loader{noLoader{}},
	}
	TuneForLoad(cfg, 4)
	w, err := databricks.NewWorkspaceClient(cfg)
	require.NoError(t, err)
	res, err := RunLoad(context.Background(), w.ServingEndpoints, loadConfig(t, func(c *LoadConfig) { c.Concurrency, c.MaxRequests = 4, 12 }))
	require.NoError(t, err)
	assert.True(t, res.Passed(), "%+v", res.Checks)
}
