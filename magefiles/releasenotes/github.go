package releasenotes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/httpstatus"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// DefaultGitHubAPI is the public GitHub REST API; GitHub Enterprise Server
// uses https://HOST/api/v3.
const DefaultGitHubAPI = "https://api.github.com"

// maxReleaseBody is GitHub's limit on a release body, in characters.
const maxReleaseBody = 125000

var repoRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

// githubClient bounds each request; ctx bounds the whole publish.
var githubClient = &http.Client{Timeout: 30 * time.Second}

// PublishGitHub sets the body of the GitHub release for tag in repo
// ("owner/name"): it finds the release by tag and updates its body, or
// creates the release (marked prerelease for a -prerelease tag) when there
// is none. apiBaseURL "" means DefaultGitHubAPI. The token never appears in
// an error.
func PublishGitHub(ctx context.Context, apiBaseURL, repo, token, tag, body string) error {
	switch {
	case !repoRE.MatchString(repo):
		return fmt.Errorf("publish release notes: repository %q is not owner/name", repo)
	case strings.TrimSpace(token) == "":
		return errors.New("publish release notes: no GitHub token (set GITHUB_TOKEN)")
	case tag == "":
		return errors.New("publish release notes: no tag")
	case len([]rune(body)) > maxReleaseBody:
		return fmt.Errorf("publish release notes: body has %d characters, GitHub allows %d", len([]rune(body)), maxReleaseBody)
	}
	base := strings.TrimRight(apiBaseURL, "/")
	if base == "" {
		base = DefaultGitHubAPI
	}
	gh := githubAPI{base: base + "/repos/" + repo, token: token}

	var existing struct {
		ID int64 `json:"id"`
	}
	err := gh.do(ctx, http.MethodGet, "/releases/tags/"+url.PathEscape(tag), nil, &existing)
	code, _ := httpstatus.Code(err)
	switch {
	case code == http.StatusNotFound:
		v, _ := release.ParseTag(tag)
		create := map[string]any{"tag_name": tag, "name": tag, "body": body, "prerelease": !v.Stable()}
		if err := gh.do(ctx, http.MethodPost, "/releases", create, nil); err != nil {
			return fmt.Errorf("publish release notes: create release %s in %s: %w", tag, repo, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("publish release notes: find release %s in %s: %w", tag, repo, err)
	case existing.ID == 0:
		return fmt.Errorf("publish release notes: find release %s in %s: response has no id", tag, repo)
	}
	update := map[string]any{"body": body}
	if err := gh.do(ctx, http.MethodPatch, fmt.Sprintf("/releases/%d", existing.ID), update, nil); err != nil {
		return fmt.Errorf("publish release notes: update release %s in %s: %w", tag, repo, err)
	}
	return nil
}

type githubAPI struct {
	base, token string
}

func (g githubAPI) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("User-Agent", "interrupt-agent-release")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := githubClient.Do(req)
	if err != nil {
		return g.mask(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var apiErr struct {
			Message string `json:"message"`
			Errors  []struct {
				Code    string `json:"code"`
				Field   string `json:"field"`
				Message string `json:"message"`
			} `json:"errors"`
		}
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &apiErr) == nil && apiErr.Message != "" {
			msg = apiErr.Message
			for _, e := range apiErr.Errors {
				msg += "; " + strings.TrimSpace(strings.Join([]string{e.Field, e.Code, e.Message}, " "))
			}
		}
		return g.mask(&httpstatus.Error{Code: resp.StatusCode, Message: truncate(msg, 300)})
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode response: %w", method, path, err)
		}
	}
	return nil
}

// mask removes the token from an error, keeping an *httpstatus.Error's
// status visible to callers.
func (g githubAPI) mask(err error) error {
	if !strings.Contains(err.Error(), g.token) {
		return err
	}
	var se *httpstatus.Error
	if errors.As(err, &se) {
		return &httpstatus.Error{Code: se.Code, Message: strings.ReplaceAll(se.Message, g.token, "***")}
	}
	return errors.New(strings.ReplaceAll(err.Error(), g.token, "***"))
}
