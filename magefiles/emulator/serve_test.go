package emulator

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

func TestServePrintsTheEnvironmentAndStops(t *testing.T) {
	pr, pw := io.Pipe()
	c, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(c, Options{TimeScale: 0.01}, pw)
		pw.Close()
	}()

	env := map[string]string{}
	lines := bufio.NewScanner(pr)
	for len(env) < 2 && lines.Scan() {
		if kv, ok := strings.CutPrefix(lines.Text(), "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	require.Contains(t, env, "DATABRICKS_HOST")
	require.Contains(t, env, "DATABRICKS_TOKEN")
	assert.True(t, strings.HasPrefix(env["DATABRICKS_HOST"], "http://127.0.0.1:"))

	// The printed values are all a client needs.
	cfg := core.ClientConfig(env["DATABRICKS_HOST"], env["DATABRICKS_TOKEN"])
	w, err := databricks.NewWorkspaceClient(cfg)
	require.NoError(t, err)
	_, err = w.CurrentUser.Me(ctx(t), iam.MeRequest{})
	require.NoError(t, err)

	stopServing(t, pr, cancel, done)
}

func TestServeReportsStartErrors(t *testing.T) {
	err := Serve(context.Background(), Options{Addr: "10.1.2.3:0"}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "loopback")
}

// stopServing ends a Serve run: drains its output, cancels its context and
// waits for it to return cleanly.
func stopServing(t *testing.T, out io.Reader, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	go func() { _, _ = io.Copy(io.Discard, out) }()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("serving did not stop after its context ended")
	}
}

// TimeScaleHeader: the emulator's own header, sent only when its minutes run
// on the scaled wall clock (emulator:serve's default), never by a real
// workspace (no Databricks source has it); clients then pace their waits to
// it. With time scale 0 (instant) or a metrics clock of its own, it is not
// sent.
func TestTimeScaleHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"scaled wall clock", Options{TimeScale: 0.01}, "0.01"},
		{"instant", Options{}, ""},
		{"a metrics clock of its own", Options{TimeScale: 0.01, MetricsClock: NewManualClock(time.Unix(0, 0))}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := start(t, tc.opts)
			req, err := http.NewRequest(http.MethodGet, srv.URL()+"/api/2.0/preview/scim/v2/Me", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+srv.Token())
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, tc.want, resp.Header.Get(TimeScaleHeader))
		})
	}
}
