package verify

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"github.com/databricks/databricks-sdk-go"
)

// TuneForLoad adjusts an SDK config, before the client is built, so the
// client does not become the bottleneck of a load test with the given
// number of workers: the SDK throttles itself to 15 requests/s by default
// and keeps only GOMAXPROCS+1 idle connections per host, so more workers
// would mostly measure the throttle and reconnects. The test stays bounded
// by its own concurrency and request cap. Build a separate client for
// verify with it; the deploy client keeps the SDK's gentler defaults. A
// transport already set on cfg is left alone.
func TuneForLoad(cfg *databricks.Config, concurrency int) {
	concurrency = max(concurrency, 1)
	// A thousand requests per second per worker is above any real
	// endpoint's speed, so the limiter never waits.
	cfg.RateLimitPerSecond = max(cfg.RateLimitPerSecond, 1000*concurrency)
	if cfg.HTTPTransport != nil {
		return
	}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          max(100, concurrency),
		MaxIdleConnsPerHost:   concurrency,
		IdleConnTimeout:       180 * time.Second,
		TLSHandshakeTimeout:   30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if cfg.InsecureSkipVerify {
		// #nosec G402 -- opt-in: the SDK config's insecure_skip_verify, set by the user
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	cfg.HTTPTransport = t
}
