package emulator

import (
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The SDK backs off about a second before each retry, so each retried case
// injects one fault and the cases run in parallel.
func TestSDKRetriesTransientFaults(t *testing.T) {
	tests := []struct {
		name  string
		match string
		fault Fault
		call  func(t *testing.T, srv *Server) error
	}{
		{"429 on a read", "GET /api/2.0/preview/scim/v2/Me", Fault429, func(t *testing.T, srv *Server) error {
			w, _ := srv.WorkspaceClient()
			_, err := w.CurrentUser.Me(ctx(t), iam.MeRequest{})
			return err
		}},
		{"503 on a write", "/api/2.2/jobs/create", Fault503, func(t *testing.T, srv *Server) error {
			w, _ := srv.WorkspaceClient()
			_, err := w.Jobs.Create(ctx(t), jobs.CreateJob{Name: "retried"})
			return err
		}},
		{"reset connection", "*", FaultDrop, func(t *testing.T, srv *Server) error {
			w, _ := srv.WorkspaceClient()
			_, err := w.Jobs.ListAll(ctx(t), jobs.ListJobsRequest{})
			return err
		}},
		{"503 on an invocation", "/serving-endpoints/*/invocations", Fault503, func(t *testing.T, srv *Server) error {
			w, _ := srv.WorkspaceClient()
			_, err := query(t, w, "ep", map[string]any{"message": "hi"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, w := start(t, Options{})
			seed(t, srv, "agent", 1)
			create(t, w, served("ep", "agent", []string{"1"}, nil))
			srv.ResetRequests()
			srv.InjectFaults(tt.match, tt.fault)

			require.NoError(t, tt.call(t, srv))
			assert.Zero(t, srv.PendingFaults())
			log := srv.Requests()
			require.Len(t, log, 2, "one faulted attempt and one retry")
			assert.Equal(t, tt.fault.String(), log[0].Fault)
			assert.Empty(t, log[1].Fault)
			assert.Equal(t, 200, log[1].Status)
		})
	}
}

func TestInvocationFaultsAreNotCountedAsServed(t *testing.T) {
	srv, w := start(t, Options{})
	seed(t, srv, "agent", 1)
	create(t, w, served("ep", "agent", []string{"1"}, nil))
	srv.InjectFaults("POST /serving-endpoints/ep/invocations", Fault500)
	_, err := query(t, w, "ep", map[string]any{"message": "hi"})
	require.ErrorIs(t, err, apierr.ErrInternalError)
	_, err = query(t, w, "ep", map[string]any{"message": "hi"})
	require.NoError(t, err)
	assert.Equal(t, int64(1), srv.EntityStats("ep")["agent-1"].Requests, "a gateway fault never reached the model")
}

func TestInternalErrorIsNotRetried(t *testing.T) {
	srv, w := start(t, Options{})
	srv.InjectFaults("POST /api/2.2/jobs/create", Fault500, Fault500)
	_, err := w.Jobs.Create(ctx(t), jobs.CreateJob{Name: "x"})
	require.ErrorIs(t, err, apierr.ErrInternalError)
	assert.Contains(t, err.Error(), "injected fault")
	assert.Equal(t, 1, srv.PendingFaults(), "one attempt only")
	_, ok := srv.Job("x")
	assert.False(t, ok, "the faulted request never reached the jobs service")
	assert.Len(t, srv.MutatingRequests(), 1, "the attempt is logged")
	srv.ClearFaults()
	assert.Zero(t, srv.PendingFaults())
}

func TestSlowResponseAndRateRules(t *testing.T) {
	srv, w := start(t, Options{})
	c := ctx(t)
	srv.InjectFaults("GET /api/2.0/preview/scim/v2/Me", FaultSlow(20*time.Millisecond))
	_, err := w.CurrentUser.Me(c, iam.MeRequest{})
	require.NoError(t, err)
	assert.Equal(t, "delay 20ms", srv.Requests()[0].Fault)

	created, err := w.Jobs.Create(c, jobs.CreateJob{Name: "x"})
	require.NoError(t, err)
	require.NoError(t, srv.AddFaultRule(FaultRule{Match: "GET /api/2.2/jobs/**", Rate: 1, Fault: Fault500, Max: 2}))
	for i := range 2 {
		_, err = w.Jobs.GetByJobId(c, created.JobId)
		require.ErrorIs(t, err, apierr.ErrInternalError, "fault %d", i)
	}
	_, err = w.Jobs.GetByJobId(c, created.JobId)
	require.NoError(t, err, "a rate rule stops at Max")
	_, err = w.ServingEndpoints.ListAll(c)
	require.NoError(t, err, "other routes are unaffected")
	_, err = w.ServingEndpoints.GetByName(c, "missing")
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)
}

func TestFaultRuleValidationAndMatching(t *testing.T) {
	bad := []struct {
		rule FaultRule
		want string
	}{
		{FaultRule{Match: "*", Rate: 0.5, Fault: Fault503}, "needs a bound"},
		{FaultRule{Match: "*", Rate: 0.5, Fault: Fault503, Max: MaxRateFaults + 1}, "needs a bound"},
		{FaultRule{Match: "*", Rate: 2, Max: 1}, "outside [0, 1]"},
		{FaultRule{Match: "/a/[", Sequence: []Fault{Fault503}}, "syntax error"},
		{FaultRule{Match: "*", Sequence: []Fault{{Status: 200}}}, "not an error status"},
		{FaultRule{Match: "*", Sequence: []Fault{FaultSlow(time.Hour)}}, "delay"},
	}
	srv, _ := start(t, Options{})
	for _, tt := range bad {
		err := srv.AddFaultRule(tt.rule)
		require.Error(t, err, "%+v", tt.rule)
		assert.Contains(t, err.Error(), tt.want)
	}
	assert.Panics(t, func() { srv.InjectFaults("/a/[", Fault503) })

	matches := []struct {
		match, method, path string
		want                bool
	}{
		{"", "GET", "/anything", true},
		{"*", "POST", "/anything", true},
		{"/api/2.0/serving-endpoints/*/config", "PUT", "/api/2.0/serving-endpoints/ep/config", true},
		{"/api/2.0/serving-endpoints/*", "PUT", "/api/2.0/serving-endpoints/ep/config", false},
		{"/api/2.0/serving-endpoints/**", "PUT", "/api/2.0/serving-endpoints/ep/config", true},
		{"PUT /api/2.0/serving-endpoints/**", "GET", "/api/2.0/serving-endpoints/ep", false},
		{"GET /api/2.2/jobs/get", "GET", "/api/2.2/jobs/get", true},
	}
	for _, tt := range matches {
		r := FaultRule{Match: tt.match}
		require.NoError(t, r.compile())
		assert.Equal(t, tt.want, r.matches(tt.method, tt.path), "%q vs %s %s", tt.match, tt.method, tt.path)
	}
	assert.Equal(t, "delay 1s, status 503", Fault{Delay: time.Second, Status: 503}.String())
	assert.True(t, strings.Contains(FaultDrop.String(), "drop"))
}

func TestQueryUnknownEndpointIsNotRetried(t *testing.T) {
	_, w := start(t, Options{})
	_, err := w.ServingEndpoints.Query(ctx(t), serving.QueryEndpointInput{Name: "nope", DataframeRecords: []any{map[string]any{"message": "x"}}})
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)
}
