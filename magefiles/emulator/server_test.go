package emulator

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/client"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"public address", Options{Addr: "0.0.0.0:0"}, "loopback only"},
		{"host name", Options{Addr: "example.com:0"}, "loopback only"},
		{"no port", Options{Addr: "127.0.0.1"}, "missing port"},
		{"negative time scale", Options{TimeScale: -1}, "time scale"},
		{"unknown metrics shape", Options{Metrics: MetricsOptions{Shape: "histograms"}}, `metrics shape "histograms"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Start(tt.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestCurrentUserAndConfig(t *testing.T) {
	srv, w := start(t, Options{UserName: "ci@example.com"})
	assert.True(t, strings.HasPrefix(srv.URL(), "http://127.0.0.1:"))
	assert.NotEmpty(t, srv.Token())
	me, err := w.CurrentUser.Me(ctx(t), iam.MeRequest{})
	require.NoError(t, err)
	assert.Equal(t, "ci@example.com", me.UserName)
	assert.True(t, me.Active)
	assert.NotSame(t, srv.Config(), srv.Config(), "each caller gets its own config")
}

func TestAuthentication(t *testing.T) {
	srv, _ := start(t, Options{Token: "right-token", ExtraTokens: []string{"second-token"}})
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"wrong token is 403", "wrong-token", apierr.ErrPermissionDenied},
		{"extra token works", "second-token", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := srv.Config()
			cfg.Token = tt.token
			w, err := databricks.NewWorkspaceClient(cfg)
			require.NoError(t, err)
			_, err = w.CurrentUser.Me(ctx(t), iam.MeRequest{})
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), "Invalid access token")
		})
	}
	t.Run("no token is 401", func(t *testing.T) {
		resp, err := http.Get(srv.URL() + "/api/2.0/preview/scim/v2/Me")
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	})
}

// sdkClient is the SDK's own HTTP client, for requests no typed API can send
// (a body with a misspelt field, a route that does not exist).
func sdkClient(t *testing.T, srv *Server) *client.DatabricksClient {
	t.Helper()
	c, err := client.New((*config.Config)(srv.Config()))
	require.NoError(t, err)
	return c
}

func TestUnknownFieldsAreRejected(t *testing.T) {
	srv, w := start(t, Options{})
	c := sdkClient(t, srv)
	tests := []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"top level", http.MethodPost, "/api/2.2/jobs/create", map[string]any{"name": "x", "max_concurent_runs": 1}, "max_concurent_runs"},
		{"nested", http.MethodPost, "/api/2.2/jobs/create", map[string]any{"tasks": []any{map[string]any{"task_key": "a", "notebok_task": map[string]any{}}}}, "notebok_task"},
		{"serving config", http.MethodPost, "/api/2.0/serving-endpoints", map[string]any{"name": "e", "config": map[string]any{"traffic_confg": map[string]any{}}}, "traffic_confg"},
		{"route", http.MethodPut, "/api/2.0/serving-endpoints/e/config", map[string]any{"served_entities": []any{}, "traffic_config": map[string]any{"routes": []any{map[string]any{"traffic_percent": 100}}}}, "traffic_percent"},
		{"registry", http.MethodPost, "/api/2.0/mlflow/registered-models/create", map[string]any{"name": "m", "descripton": "x"}, "descripton"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Do(ctx(t), tt.method, tt.path, map[string]string{"Content-Type": "application/json"}, nil, tt.body, nil)
			require.ErrorIs(t, err, apierr.ErrInvalidParameterValue)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
	left, err := w.Jobs.ListAll(ctx(t), jobs.ListJobsRequest{})
	require.NoError(t, err)
	assert.Empty(t, left, "a rejected request changes nothing")
}

func TestUnknownQueryParameterIsRejected(t *testing.T) {
	srv, _ := start(t, Options{})
	err := sdkClient(t, srv).Do(ctx(t), http.MethodGet, "/api/2.2/jobs/list", nil, nil, map[string]any{"nmae": "x"}, nil)
	require.ErrorIs(t, err, apierr.ErrInvalidParameterValue)
	assert.Contains(t, err.Error(), "nmae")
}

func TestUnknownRouteIs404(t *testing.T) {
	srv, _ := start(t, Options{})
	err := sdkClient(t, srv).Do(ctx(t), http.MethodGet, "/api/2.0/clusters/list", nil, nil, nil, nil)
	require.ErrorIs(t, err, apierr.ErrNotFound)
	assert.Contains(t, err.Error(), "No API found")
}

func TestRequestLog(t *testing.T) {
	srv, w := start(t, Options{})
	c := ctx(t)
	_, err := w.CurrentUser.Me(c, iam.MeRequest{})
	require.NoError(t, err)
	_, err = w.Jobs.ListAll(c, jobs.ListJobsRequest{})
	require.NoError(t, err)
	assert.Empty(t, srv.MutatingRequests(), "reads are not mutations")

	_, err = w.Jobs.Create(c, jobs.CreateJob{Name: "j"})
	require.NoError(t, err)
	_, err = w.Jobs.GetByJobId(c, 1)
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)

	log := srv.Requests()
	require.Len(t, log, 4)
	assert.Equal(t, RequestRecord{Method: "GET", Path: "/api/2.0/preview/scim/v2/Me", Op: "scim.me", Status: 200},
		RequestRecord{Method: log[0].Method, Path: log[0].Path, Op: log[0].Op, Status: log[0].Status})
	assert.Equal(t, 400, log[3].Status, "a missing job is 400 INVALID_PARAMETER_VALUE")
	mut := srv.MutatingRequests()
	require.Len(t, mut, 1)
	assert.Equal(t, "jobs.create", mut[0].Op)
	assert.Len(t, srv.RequestsFor("jobs."), 3)
	srv.ResetRequests()
	assert.Empty(t, srv.Requests())
}

func TestRequestLogIsBounded(t *testing.T) {
	srv, w := start(t, Options{MaxRequestLog: 10})
	for range 25 {
		_, err := w.CurrentUser.Me(ctx(t), iam.MeRequest{})
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, len(srv.Requests()), 10)
}

// TestCloseDropsUnusedConnections: a client's spare connection that never
// carried a request is closed at once instead of holding Shutdown.
func TestCloseDropsUnusedConnections(t *testing.T) {
	srv, err := Start(Options{})
	require.NoError(t, err)
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL(), "http://"))
	require.NoError(t, err)
	defer conn.Close()
	require.Eventually(t, func() bool {
		srv.connMu.Lock()
		defer srv.connMu.Unlock()
		return len(srv.fresh) == 1
	}, 5*time.Second, 5*time.Millisecond)

	srv.dropFreshConns()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = conn.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the server side must have closed the connection")
	require.NoError(t, srv.Close())
}
