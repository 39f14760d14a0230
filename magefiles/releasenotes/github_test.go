package releasenotes

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const plantedToken = "ghp_PLANTEDtoken0123456789abcdef"

// fakeGitHub serves the three release endpoints PublishGitHub uses, under
// prefix, on 127.0.0.1. It keeps releases by tag and logs every request.
type fakeGitHub struct {
	*httptest.Server
	mu       sync.Mutex
	releases map[string]map[string]any
	calls    []string
	// fail answers "METHOD path-prefix" with a status and body.
	fail map[string]struct {
		status int
		body   string
	}
}

func startGitHub(t *testing.T, prefix string) *fakeGitHub {
	t.Helper()
	g := &fakeGitHub{releases: map[string]map[string]any{}}
	g.fail = map[string]struct {
		status int
		body   string
	}{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		p := strings.TrimPrefix(r.URL.EscapedPath(), prefix)
		g.calls = append(g.calls, r.Method+" "+p)
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+plantedToken {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Bad credentials","documentation_url":"https://docs.example.test"}`)
			return
		}
		assert.Equal(t, "application/vnd.github+json", r.Header.Get("Accept"))
		assert.Equal(t, "2022-11-28", r.Header.Get("X-GitHub-Api-Version"))
		for key, f := range g.fail {
			if strings.HasPrefix(r.Method+" "+p, key) {
				w.WriteHeader(f.status)
				fmt.Fprint(w, f.body)
				return
			}
		}
		var in map[string]any
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &in)

		const base = "/repos/hitl-mlops/interrupt-agent/releases"
		switch {
		case r.Method == http.MethodGet && strings.HasPrefix(p, base+"/tags/"):
			tag := strings.TrimPrefix(r.URL.Path, prefix+base+"/tags/")
			rel, ok := g.releases[tag]
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprint(w, `{"message":"Not Found"}`)
				return
			}
			_ = json.NewEncoder(w).Encode(rel)
		case r.Method == http.MethodPatch && strings.HasPrefix(p, base+"/"):
			id := strings.TrimPrefix(p, base+"/")
			for _, rel := range g.releases {
				if fmt.Sprint(rel["id"]) == id {
					rel["body"] = in["body"]
					_ = json.NewEncoder(w).Encode(rel)
					return
				}
			}
			w.WriteHeader(http.StatusNotFound)
		case r.Method == http.MethodPost && p == base:
			in["id"] = 100 + len(g.releases)
			g.releases[in["tag_name"].(string)] = in
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(in)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"Not Found"}`)
		}
	}))
	t.Cleanup(g.Close)
	return g
}

func TestPublishGitHubUpdatesExistingRelease(t *testing.T) {
	gh := startGitHub(t, "")
	gh.releases["v1.1.0"] = map[string]any{"id": 7, "tag_name": "v1.1.0", "body": "old"}

	err := PublishGitHub(context.Background(), gh.URL+"/", "hitl-mlops/interrupt-agent", plantedToken, "v1.1.0", "## v1.1.0\n")
	require.NoError(t, err)
	assert.Equal(t, []string{
		"GET /repos/hitl-mlops/interrupt-agent/releases/tags/v1.1.0",
		"PATCH /repos/hitl-mlops/interrupt-agent/releases/7",
	}, gh.calls)
	assert.Equal(t, "## v1.1.0\n", gh.releases["v1.1.0"]["body"])
}

func TestPublishGitHubCreatesMissingRelease(t *testing.T) {
	tests := []struct {
		tag            string
		wantPrerelease bool
	}{
		{"v1.1.0", false},
		{"v1.2.0-rc.1", true},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			// GitHub Enterprise Server serves the API under /api/v3.
			gh := startGitHub(t, "/api/v3")
			err := PublishGitHub(context.Background(), gh.URL+"/api/v3", "hitl-mlops/interrupt-agent", plantedToken, tt.tag, "notes")
			require.NoError(t, err)
			assert.Equal(t, []string{
				"GET /repos/hitl-mlops/interrupt-agent/releases/tags/" + tt.tag,
				"POST /repos/hitl-mlops/interrupt-agent/releases",
			}, gh.calls)
			rel := gh.releases[tt.tag]
			require.NotNil(t, rel)
			assert.Equal(t, tt.tag, rel["tag_name"])
			assert.Equal(t, tt.tag, rel["name"])
			assert.Equal(t, "notes", rel["body"])
			assert.Equal(t, tt.wantPrerelease, rel["prerelease"])
		})
	}
}

func TestPublishGitHubFailures(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		fail    map[string]string // "METHOD path" -> status:body
		wantErr string
	}{
		{
			name:    "bad credentials",
			token:   plantedToken + "-wrong",
			wantErr: "publish release notes: find release v1.1.0 in hitl-mlops/interrupt-agent: HTTP 401 Unauthorized: Bad credentials",
		},
		{
			name:    "server error on lookup",
			token:   plantedToken,
			fail:    map[string]string{"GET ": `500:{"message":"Server Error"}`},
			wantErr: "find release v1.1.0 in hitl-mlops/interrupt-agent: HTTP 500 Internal Server Error: Server Error",
		},
		{
			name:    "validation error on create lists the fields",
			token:   plantedToken,
			fail:    map[string]string{"POST ": `422:{"message":"Validation Failed","errors":[{"resource":"Release","code":"already_exists","field":"tag_name"}]}`},
			wantErr: "create release v1.1.0 in hitl-mlops/interrupt-agent: HTTP 422 Unprocessable Entity: Validation Failed; tag_name already_exists",
		},
		{
			name:    "a server that echoes the token",
			token:   plantedToken,
			fail:    map[string]string{"GET ": `403:{"message":"token ` + plantedToken + ` lacks contents:write"}`},
			wantErr: "HTTP 403 Forbidden: token *** lacks contents:write",
		},
		{
			name:    "a body that is not JSON",
			token:   plantedToken,
			fail:    map[string]string{"GET ": `502:<html>bad gateway</html>`},
			wantErr: "HTTP 502 Bad Gateway: <html>bad gateway</html>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gh := startGitHub(t, "")
			for k, v := range tt.fail {
				status, body, _ := strings.Cut(v, ":")
				var code int
				_, _ = fmt.Sscan(status, &code)
				gh.fail[k] = struct {
					status int
					body   string
				}{code, body}
			}
			err := PublishGitHub(context.Background(), gh.URL, "hitl-mlops/interrupt-agent", tt.token, "v1.1.0", "notes")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), plantedToken)
			assert.NotContains(t, fmt.Sprintf("%+v %#v", err, err), plantedToken)
		})
	}
}

func TestPublishGitHubBadInput(t *testing.T) {
	gh := startGitHub(t, "")
	tests := []struct {
		name, repo, token, tag, body, wantErr string
	}{
		{"repo without owner", "interrupt-agent", plantedToken, "v1.0.0", "b", `repository "interrupt-agent" is not owner/name`},
		{"repo with a path", "a/b/c", plantedToken, "v1.0.0", "b", `repository "a/b/c" is not owner/name`},
		{"no token", "a/b", "  ", "v1.0.0", "b", "no GitHub token (set GITHUB_TOKEN)"},
		{"no tag", "a/b", plantedToken, "", "b", "no tag"},
		{"body too long", "a/b", plantedToken, "v1.0.0", strings.Repeat("x", maxReleaseBody+1), "GitHub allows 125000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := PublishGitHub(context.Background(), gh.URL, tt.repo, tt.token, tt.tag, tt.body)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
	assert.Empty(t, gh.calls, "bad input must not reach the API")
}

func TestPublishGitHubConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	err = PublishGitHub(context.Background(), "http://"+addr, "a/b", plantedToken, "v1.0.0", "b")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection refused")
	assert.NotContains(t, err.Error(), plantedToken)
}

func TestPublishGitHubCancelled(t *testing.T) {
	gh := startGitHub(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := PublishGitHub(ctx, gh.URL, "a/b", plantedToken, "v1.0.0", "b")
	assert.ErrorIs(t, err, context.Canceled)
}
