package workspace

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// deadAddress is a loopback port where nothing listens: bound, then closed.
func deadAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// A connection that cannot heal fails Connect at once, naming the target,
// the host and what to check; the SDK on its own retries "connection
// refused" for its whole retry window (httpclient/errors.go,
// urlErrorTransientErrorMessages). No test sleeps or times anything: the
// retry window here is 5 minutes, so reaching the assertion at all shows
// nothing was retried.
func TestUnreachableHostsFailAtOnce(t *testing.T) {
	tlsServer := httptest.NewTLSServer(http.NotFoundHandler()) // a certificate nobody trusts
	t.Cleanup(tlsServer.Close)
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	tests := []struct {
		name, host, why, check string
	}{
		{"nothing listens", "http://" + deadAddress(t), "nothing accepts connections there (refused)", "workspace.host in databricks.yml"},
		{"unknown host", "https://no-such-workspace.invalid", "the host name does not resolve", "workspace.host in databricks.yml"},
		{"untrusted certificate", tlsServer.URL, "its TLS certificate is not trusted", "certificate authority"},
		{"https to a plain port", "https://" + strings.TrimPrefix(plain.URL, "http://"), "it does not speak TLS", "the scheme of workspace.host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Connect(context.Background(), Target{Name: "prod", Host: tt.host}, Options{
				Getenv: envOf(map[string]string{"DATABRICKS_TOKEN": "dapi-test"}), SkipConfigFile: true, RetryTimeoutSeconds: 300,
			})
			var ue *UnreachableError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, "prod", ue.Target)
			assert.Contains(t, err.Error(), "cannot reach the workspace of target prod at ")
			assert.Contains(t, err.Error(), tt.why)
			assert.Contains(t, err.Error(), tt.check)
		})
	}
}

// countingRefusal refuses every connection, as a host where nothing
// listens does, counting the attempts per path.
type countingRefusal struct {
	mu       sync.Mutex
	attempts map[string]int
}

func (c *countingRefusal) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.attempts[req.URL.Path]++
	c.mu.Unlock()
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

// The SDK's client for host metadata retries, for its whole retry window,
// any error whose text holds "429" (config.go, the refresh client's
// TransientErrors), and a transport error's text holds the URL: a refused
// workspace whose host name or port has "429" in it was retried in silence
// for minutes. Its metadata is asked once, then Connect fails at once.
func TestUnreachableHostWith429InItsNameFailsAtOnce(t *testing.T) {
	refuse := &countingRefusal{attempts: map[string]int{}}
	host := "https://adb-4290000000000001.1.azuredatabricks.net"
	_, err := Connect(context.Background(), Target{Name: "prod", Host: host}, Options{
		Getenv: envOf(map[string]string{"DATABRICKS_HOST": host, "DATABRICKS_TOKEN": "dapi-test"}), SkipConfigFile: true, RetryTimeoutSeconds: 300,
		HTTPTransport: refuse,
	})
	var ue *UnreachableError
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, err.Error(), "cannot reach the workspace of target prod at "+host+": nothing accepts connections there (refused)")
	assert.Equal(t, 1, refuse.attempts["/.well-known/databricks-config"], "the metadata is asked once: %v", refuse.attempts)
}

func TestTransientAnswersAreTold(t *testing.T) {
	srv := startEmulator(t)
	srv.InjectFaults("GET /api/2.0/preview/scim/v2/Me", emulator.Fault503, emulator.Fault429)
	var mu sync.Mutex
	var lines []string
	c, err := Connect(context.Background(), Target{Name: "dev", Host: srv.URL()}, Options{
		Getenv: envOf(map[string]string{"DATABRICKS_TOKEN": srv.Token()}), SkipConfigFile: true,
		OnRetry: func(l string) { mu.Lock(); lines = append(lines, l); mu.Unlock() },
	})
	require.NoError(t, err)
	assert.NotEmpty(t, c.User)
	require.Len(t, lines, 2, "one line per retried answer")
	assert.Equal(t, "retry 1 of GET /api/2.0/preview/scim/v2/Me after 503 Service Unavailable: waiting about 1s", lines[0])
	assert.Equal(t, "retry 2 of GET /api/2.0/preview/scim/v2/Me after 429 Too Many Requests: waiting about 2s", lines[1])
}

func TestRetryTimeoutSetting(t *testing.T) {
	srv := startEmulator(t)
	_, err := Connect(context.Background(), Target{Name: "dev", Host: srv.URL()}, Options{
		Getenv: envOf(map[string]string{"DATABRICKS_TOKEN": srv.Token(), RetryTimeoutEnv: "soon"}), SkipConfigFile: true,
	})
	assert.EqualError(t, err, `DATABRICKS_RETRY_TIMEOUT_SECONDS="soon": give a whole number of seconds, such as 60`)
	_, err = Connect(context.Background(), Target{Name: "dev", Host: srv.URL()}, Options{
		Getenv: envOf(map[string]string{"DATABRICKS_TOKEN": srv.Token(), RetryTimeoutEnv: "60"}), SkipConfigFile: true,
	})
	assert.NoError(t, err)
}

type failingTransport struct{ err error }

func (f failingTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// Only failures the SDK retries are told as retries: a cancelled call is
// not retried and says nothing.
func TestOnlyRetriedFailuresAreTold(t *testing.T) {
	for _, tc := range []struct {
		err  error
		told bool
	}{
		{errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout"), true},
		{errors.New("read: connection reset by peer"), true},
		{context.Canceled, false},
		{errors.New("unexpected EOF"), false},
	} {
		var lines []string
		g := newGuard(failingTransport{tc.err}, "dev", "http://h", func(l string) { lines = append(lines, l) })
		req, err := http.NewRequest(http.MethodGet, "http://h/api/2.0/x", nil)
		require.NoError(t, err)
		_, err = g.RoundTrip(req)
		require.ErrorIs(t, err, tc.err)
		assert.Equal(t, tc.told, len(lines) == 1, "%v: %v", tc.err, lines)
	}
}
