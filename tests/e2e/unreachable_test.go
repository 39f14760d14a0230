package e2e

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// TestUnreachableProdFailsAtOnce: with production's workspace gone (its
// address refuses connections), deploy, verify, status and rollback each
// fail at once naming the environment, the host and what to check, with
// the SDK's full 5-minute retry window configured: the SDK alone would
// retry "connection refused" in silence for all of it. How long each took
// is logged, not asserted (machines here are noisy); a regression would
// hold the test for minutes.
func TestUnreachableProdFailsAtOnce(t *testing.T) {
	t.Parallel()
	w := newUCWorlds(t)
	w.ship("v1.0.0", allEnvs...)
	host := closeRefusing(t, w.server(cd.EnvProd))
	fullWindow := func(o *cd.Options) { o.Client.RetryTimeoutSeconds = 300 }
	calls := map[string]func(o cd.Options) error{
		"deploy": func(o cd.Options) error { return cd.Deploy(context.Background(), o) },
		"verify": func(o cd.Options) error { return cd.RunVerify(context.Background(), o) },
		"status": func(o cd.Options) error { _, err := cd.Status(context.Background(), o); return err },
		"rollback": func(o cd.Options) error {
			return cd.Rollback(context.Background(), o, cd.RollbackTarget{Release: "v1.0.0"})
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			r := w.run(cd.EnvProd, fullWindow)
			start := time.Now()
			err := call(r.Opts)
			t.Logf("%s failed after %s", name, time.Since(start))
			var ue *workspace.UnreachableError
			require.ErrorAs(t, err, &ue, r.Output())
			assert.Equal(t, cd.EnvProd, ue.Target)
			assert.Contains(t, err.Error(), "cannot reach the workspace of target prod at "+host+": nothing accepts connections there (refused); check workspace.host in databricks.yml")
		})
	}
}

// closeRefusing closes srv and keeps its address refusing connections
// until the test ends, returning it. Closing alone would free the port,
// and another test's server may be given it and answer in srv's place.
// A socket bound to the port without listening holds it: the kernel
// refuses connections there, and port 0 binds skip it. It is bound the
// moment the listener closes, with SO_REUSEADDR as the closed
// connections' TIME_WAIT needs.
func closeRefusing(t *testing.T, srv *emulator.Server) string {
	t.Helper()
	host := srv.URL()
	u, err := url.Parse(host)
	require.NoError(t, err)
	port, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	require.NoError(t, syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1))
	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	addr := &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := syscall.Bind(fd, addr)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			require.NoError(t, err, "hold port %d of the closed server", port)
		}
		time.Sleep(50 * time.Microsecond)
	}
	require.NoError(t, <-closed)
	return host
}
