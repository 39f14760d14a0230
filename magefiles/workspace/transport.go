package workspace

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RetryTimeoutEnv sets how long the SDK keeps retrying one call that gets
// transient answers (429, 503, 504, a reset or timed-out connection), in
// seconds; the SDK's default is 5 minutes. A profile's
// retry_timeout_seconds sets it too.
const RetryTimeoutEnv = "DATABRICKS_RETRY_TIMEOUT_SECONDS"

// UnreachableError is a workspace the client cannot connect to in a way
// no retry heals: nothing listens at the address, the host name does not
// resolve, or TLS fails. The SDK retries "connection refused" for its whole
// retry window in silence; the client fails at once instead.
type UnreachableError struct {
	Target, Host string
	// Why is what failed, in words; Check is what to look at.
	Why, Check string
	Cause      error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the workspace of target %s at %s: %s; check %s", e.Target, e.Host, e.Why, e.Check)
}

func (e *UnreachableError) Unwrap() error { return e.Cause }

// unreachable classifies a transport error that cannot heal; nil for any
// other error.
func unreachable(target, host string, err error) *UnreachableError {
	e := &UnreachableError{Target: target, Host: host, Cause: err}
	hostCheck := "workspace.host in databricks.yml (or DATABRICKS_HOST), and that this machine can reach it"
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var badName x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var header tls.RecordHeaderError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Why, e.Check = "nothing accepts connections there (refused)", hostCheck
	case errors.As(err, &dns) && (dns.IsNotFound || !dns.IsTemporary && !dns.IsTimeout):
		e.Why, e.Check = "the host name does not resolve ("+dns.Err+")", hostCheck
	case errors.As(err, &verify), errors.As(err, &unknownCA), errors.As(err, &badName), errors.As(err, &invalid):
		e.Why, e.Check = "its TLS certificate is not trusted ("+err.Error()+")", "the host name, and any proxy or certificate authority between this machine and Databricks"
	case errors.As(err, &header):
		e.Why, e.Check = "it does not speak TLS", "the scheme of workspace.host (https://) and the port"
	default:
		return nil
	}
	return e
}

// stopRetriesKey holds, in a request's context, what ends the SDK's
// retries of that call once the host proves unreachable (see
// stopRetriesOnUnreachable).
type stopRetriesKey struct{}

// stopRetriesOnUnreachable returns ctx, cancelled when a request made with
// it finds the host unreachable. The SDK's client for host metadata and
// tokens retries any error whose text holds "429" or "rate limit" for the
// whole retry window, and a transport error's text holds the URL: a host
// name or port with "429" in it would be retried in silence for minutes.
// The call's retries stop on the cancel and its error is ours.
func stopRetriesOnUnreachable(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	return context.WithValue(ctx, stopRetriesKey{}, cancel), func() { cancel(nil) }
}

// guard is the client's transport: it fails unreachable hosts at once and
// tells each transient answer the SDK will retry.
type guard struct {
	base         http.RoundTripper
	target, host string
	onRetry      func(line string)

	mu sync.Mutex
	// attempts counts the transient answers of a call in a row, by method
	// and URL: the SDK's attempts of one call share them.
	attempts map[string]int
	// timeScale is the last X-Emulator-Time-Scale an answer carried.
	timeScale float64
}

// emulatorTimeScaleHeader is the header the project's workspace emulator
// sends when its service time runs faster than the wall clock (see
// emulator.TimeScaleHeader); a Databricks workspace never sends it.
const emulatorTimeScaleHeader = "X-Emulator-Time-Scale"

func newGuard(base http.RoundTripper, target, host string, onRetry func(string)) *guard {
	if base == nil {
		base = http.DefaultTransport
	}
	return &guard{base: base, target: target, host: host, onRetry: onRetry, attempts: map[string]int{}}
}

// RoundTrip implements http.RoundTripper.
func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := g.base.RoundTrip(req)
	if err != nil {
		if u := unreachable(g.target, g.host, err); u != nil {
			if stop, ok := req.Context().Value(stopRetriesKey{}).(context.CancelCauseFunc); ok {
				stop(u)
			}
			return nil, u
		}
		if retriedBySDK(err) {
			g.transient(req, err.Error())
		}
		return nil, err
	}
	if v := resp.Header.Get(emulatorTimeScaleHeader); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 && f < 1 {
			g.mu.Lock()
			g.timeScale = f
			g.mu.Unlock()
		}
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		g.transient(req, strconv.Itoa(resp.StatusCode)+" "+http.StatusText(resp.StatusCode))
	default:
		g.mu.Lock()
		delete(g.attempts, key(req))
		g.mu.Unlock()
	}
	return resp, nil
}

// transient prints one line for an answer the SDK will retry: the call,
// the attempt and the SDK's wait (attempt seconds, at most 10, plus up to
// 0.75 s of jitter: its retries.backoff).
func (g *guard) transient(req *http.Request, what string) {
	g.mu.Lock()
	g.attempts[key(req)]++
	n := g.attempts[key(req)]
	g.mu.Unlock()
	if g.onRetry == nil {
		return
	}
	wait := min(time.Duration(n)*time.Second, 10*time.Second)
	g.onRetry(fmt.Sprintf("retry %d of %s %s after %s: waiting about %s", n, req.Method, req.URL.Path, what, wait))
}

// sdkRetriedErrors are the transport failures the SDK retries (the rest of
// its list in httpclient/errors.go, urlErrorTransientErrorMessages;
// "connection refused" is turned into an UnreachableError above).
var sdkRetriedErrors = []string{"connection reset by peer", "TLS handshake timeout", "Unexpected error", "i/o timeout"}

func retriedBySDK(err error) bool {
	for _, m := range sdkRetriedErrors {
		if strings.Contains(err.Error(), m) {
			return true
		}
	}
	return false
}

func key(req *http.Request) string { return req.Method + " " + req.URL.String() }

// TimeScale is the emulator's time scale as its answers told it: real time
// per unit of service time, 0 for a real workspace.
func (g *guard) TimeScale() float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.timeScale
}
