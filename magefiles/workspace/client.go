// Package workspace connects to the Databricks workspace of a bundle target
// and deploys the bundle into it. The client comes from the target's host
// (and profile) plus the SDK's unified authentication; it refuses to talk to
// a workspace other than the target's. Its transport (transport.go) fails a
// workspace no retry can reach at once (UnreachableError) and reports each
// answer the SDK retries (Options.OnRetry). Deploys go through an Engine:
// the Databricks CLI when it is installed, or a native engine on the SDK.
package workspace

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/iam"
)

// Target is the part of a bundle target the client needs.
type Target struct {
	Name    string
	Host    string
	Profile string
	// AuthType pins one of the SDK's auth types (pat, oauth-m2m,
	// github-oidc, ...); empty lets the SDK pick from what is configured.
	AuthType string
}

// Options adjust how a client is made, for tests and special runs.
type Options struct {
	// Getenv reads the environment (DATABRICKS_*); nil is os.Getenv.
	Getenv func(string) string
	// HTTPTransport replaces the network transport (tests).
	HTTPTransport http.RoundTripper
	// RetryTimeoutSeconds bounds the SDK's retries of 429/503; 0 is the SDK
	// default (5 minutes).
	RetryTimeoutSeconds int
	// SkipConfigFile ignores ~/.databrickscfg (tests).
	SkipConfigFile bool
	// RateLimitPerSecond raises the SDK's client-side limit (15/s by
	// default), for load tests.
	RateLimitPerSecond int
	// OnRetry receives one line for each transient answer the SDK will
	// retry (what, the attempt, the wait); nil says nothing.
	OnRetry func(line string)
}

// Client is an authenticated workspace client for one target.
type Client struct {
	W *databricks.WorkspaceClient
	// Target is the bundle target it was made for.
	Target string
	// Host is the workspace URL, normalized.
	Host string
	// User is the authenticated identity's user name.
	User string
	// AuthType is the auth method the SDK settled on (pat, oauth-m2m, ...).
	AuthType string

	guard *guard
}

// TimeScale is real time per unit of service time when the workspace is
// the project's emulator running faster than the wall clock (it says so in
// every answer); 0 for a real workspace.
func (c *Client) TimeScale() float64 {
	if c == nil || c.guard == nil {
		return 0
	}
	return c.guard.TimeScale()
}

// HostMismatchError refuses a client whose credentials are for another
// workspace than the target's: a prod deploy aimed at the dev workspace.
type HostMismatchError struct {
	Target     string
	TargetHost string
	CredHost   string
	Source     string // where the other host came from
}

func (e *HostMismatchError) Error() string {
	return fmt.Sprintf("target %s deploys to %s, but the credentials are for %s (from %s): refusing to run against the wrong workspace; set DATABRICKS_HOST=%s (or use the profile for that workspace)",
		e.Target, e.TargetHost, e.CredHost, e.Source, e.TargetHost)
}

// MissingCredentialsError lists what to set when no credentials are found.
type MissingCredentialsError struct {
	Target string
	Host   string
	Cause  error
}

// CredentialHelp is the list of ways to authenticate, shown when none works.
// It names environment variables and holds no credential.
//
// #nosec G101 -- variable names, not values
const CredentialHelp = `set one of:
  DATABRICKS_TOKEN                                  a personal access token
  DATABRICKS_CLIENT_ID + DATABRICKS_CLIENT_SECRET   OAuth machine-to-machine (a service principal)
  DATABRICKS_CLIENT_ID in GitHub Actions            GitHub OIDC federation (the job needs permissions: id-token: write)
  DATABRICKS_CONFIG_PROFILE                         a profile in ~/.databrickscfg (e.g. after databricks auth login)`

func (e *MissingCredentialsError) Error() string {
	return fmt.Sprintf("no Databricks credentials for target %s (%s): %s", e.Target, e.Host, CredentialHelp)
}

func (e *MissingCredentialsError) Unwrap() error { return e.Cause }

// ErrCredentialsRejected wraps a 401/403 from the workspace.
var ErrCredentialsRejected = errors.New("credentials rejected")

// Connect makes an authenticated client for the target and checks it by
// asking the workspace who we are (one read, nothing changes).
func Connect(ctx context.Context, t Target, opts Options) (*Client, error) {
	if strings.TrimSpace(t.Host) == "" {
		return nil, fmt.Errorf("target %s has no workspace.host in databricks.yml", t.Name)
	}
	targetHost, err := NormalizeHost(t.Host)
	if err != nil {
		return nil, fmt.Errorf("target %s workspace.host %q: %w", t.Name, t.Host, err)
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	loaders := []config.Loader{envLoader{getenv: getenv}}
	if !opts.SkipConfigFile {
		loaders = append(loaders, config.ConfigFile)
	}
	retryTimeout := opts.RetryTimeoutSeconds
	if v := getenv(RetryTimeoutEnv); retryTimeout == 0 && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s=%q: give a whole number of seconds, such as 60", RetryTimeoutEnv, v)
		}
		retryTimeout = n
	}
	g := newGuard(opts.HTTPTransport, t.Name, targetHost, opts.OnRetry)
	cfg := &config.Config{
		Profile:             t.Profile,
		AuthType:            t.AuthType,
		HTTPTransport:       g,
		RetryTimeoutSeconds: retryTimeout,
		RateLimitPerSecond:  opts.RateLimitPerSecond,
		Loaders:             loaders,
	}
	// Host metadata is fetched by the SDK's own retrying client; an
	// unreachable host ends its retries at once (stopRetriesOnUnreachable).
	cfg.HostMetadataResolver = func(ctx context.Context, host string) (*config.HostMetadata, error) {
		ctx, stop := stopRetriesOnUnreachable(ctx)
		defer stop()
		return cfg.DefaultHostMetadataResolver()(ctx, host)
	}
	// Resolve without the target's host first: a host from the environment
	// or the profile says which workspace the credentials are for.
	if err := cfg.EnsureResolved(); err != nil {
		return nil, fmt.Errorf("target %s: databricks configuration: %w", t.Name, err)
	}
	if cfg.Host != "" {
		credHost, err := NormalizeHost(cfg.Host)
		if err != nil || credHost != targetHost {
			source := "DATABRICKS_HOST"
			if getenv("DATABRICKS_HOST") == "" {
				source = "profile " + orDefault(cfg.Profile, "DEFAULT") + " in ~/.databrickscfg"
			}
			return nil, &HostMismatchError{Target: t.Name, TargetHost: targetHost, CredHost: cfg.Host, Source: source}
		}
	}
	cfg.Host = targetHost

	// Find credentials before any request, so a missing token is one clear
	// message and not a 401 from the first API call.
	if err := cfg.Authenticate(&http.Request{Header: http.Header{}, URL: &url.URL{}}); err != nil {
		if errors.Is(err, config.ErrCannotConfigureDefault) || strings.Contains(err.Error(), "cannot configure default credentials") {
			return nil, &MissingCredentialsError{Target: t.Name, Host: targetHost, Cause: err}
		}
		return nil, fmt.Errorf("target %s (%s): authenticate: %w", t.Name, targetHost, err)
	}
	w, err := databricks.NewWorkspaceClient((*databricks.Config)(cfg))
	if err != nil {
		return nil, fmt.Errorf("target %s (%s): workspace client: %w", t.Name, targetHost, err)
	}
	me, err := w.CurrentUser.Me(ctx, iam.MeRequest{})
	if err != nil {
		if errors.Is(err, apierr.ErrUnauthenticated) || errors.Is(err, apierr.ErrPermissionDenied) {
			return nil, fmt.Errorf("target %s (%s): %w (%s auth): %v", t.Name, targetHost, ErrCredentialsRejected, cfg.AuthType, err)
		}
		return nil, fmt.Errorf("target %s (%s): who am I: %w", t.Name, targetHost, err)
	}
	return &Client{W: w, Target: t.Name, Host: targetHost, User: me.UserName, AuthType: cfg.AuthType, guard: g}, nil
}

// NormalizeHost returns scheme://host[:port] in lower case, https by default,
// without the default port or a trailing path.
func NormalizeHost(h string) (string, error) {
	h = strings.TrimSpace(h)
	if !strings.Contains(h, "://") {
		h = "https://" + h
	}
	u, err := url.Parse(h)
	if err != nil {
		return "", err
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("no host name")
	}
	host := strings.ToLower(u.Host)
	if u.Scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	}
	return strings.ToLower(u.Scheme) + "://" + host, nil
}

// SameHost reports whether two hosts name the same workspace.
func SameHost(a, b string) bool {
	na, errA := NormalizeHost(a)
	nb, errB := NormalizeHost(b)
	return errA == nil && errB == nil && na == nb
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// envLoader is the SDK's environment loader reading through getenv, so
// tests can hand a client an environment without touching the process's.
type envLoader struct {
	getenv func(string) string
}

func (envLoader) Name() string { return "environment" }

func (l envLoader) Configure(cfg *config.Config) error {
	for _, attr := range config.ConfigAttributes {
		if !attr.IsZero(cfg) {
			continue
		}
		for _, name := range attr.EnvVars {
			v := l.getenv(name)
			if v == "" {
				continue
			}
			if err := attr.SetS(cfg, v); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			break
		}
	}
	return nil
}
