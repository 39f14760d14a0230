package core

import (
	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/config"
)

// ClientConfig is an SDK config for an emulated workspace at host: PAT auth
// with token, and nothing read from the environment or ~/.databrickscfg, so
// a developer's own credentials never leak into a test. The SDK's
// client-side rate limit (15 requests/s by default) is lifted, since it
// would throttle tests and load checks against a local server.
func ClientConfig(host, token string) *databricks.Config {
	return &databricks.Config{
		Host:               host,
		Token:              token,
		AuthType:           "pat",
		Credentials:        config.PatCredentials{},
		Loaders:            []config.Loader{noLoader{}},
		RateLimitPerSecond: 100_000,
	}
}

// noLoader keeps the SDK from reading environment variables and config files.
type noLoader struct{}

func (noLoader) Name() string                   { return "emulator" }
func (noLoader) Configure(*config.Config) error { return nil }
