// Package verify checks a deployed serving endpoint: the integration suite
// (or its smoke subset) from tests/integration/cases.json, a bounded load
// test against latency, error-rate and throughput thresholds, and the
// endpoint's metrics export. It talks to the endpoint only through the SDK's
// serving API (Querier, MetricsExporter; w.ServingEndpoints satisfies both)
// and reports as JUnit XML, a JSON summary and a rendering for a terminal.
//
// A verify target needs a few calls:
//
//	cfg := workspaceConfigFor(target) // however the target builds it
//	verify.TuneForLoad(cfg, concurrency)
//	w, err := databricks.NewWorkspaceClient(cfg)
//	cases, err := verify.LoadCases(filepath.Join(root, verify.DefaultCasesPath))
//	rep, err := verify.Run(ctx, w.ServingEndpoints, verify.Options{
//		Env: "staging", Endpoint: name, Cases: cases,
//		Load:    &verify.LoadConfig{Concurrency: 4, Duration: 30 * time.Second, MaxRequests: 500, Thresholds: th},
//		Metrics: &verify.MetricsConfig{Settle: time.Minute},
//		ArtifactsDir: "artifacts",
//	})
//	rep.Render(os.Stdout, useColor) // rep is nil only when the options were invalid
//
// The error wraps ErrFailed when the endpoint failed verification and names
// what failed; it wraps context.Canceled when the run was stopped.
//
// Reading order: verify.go (Options and Run: the export read, the cases,
// the load test, the export read again), cases.go and suite.go, load.go,
// metrics.go, then report.go and render.go for what is written and shown.
//
// # Cases
//
// Each case sends one dataframe record and checks the single prediction:
// status, tool and risk when given, and whether an interrupt awaits
// approval. The contract's promises are checked on every answer: the
// thread_id is echoed, completed and error answers carry a result, an
// interrupt has a question and a checkpoint. A case with a resume step then
// sends {thread_id, resume, checkpoint[, edited_args]} with the checkpoint
// the interrupt returned and checks the resulting status. Cases run one
// after another and a failure does not stop the rest.
//
// # Load
//
// The load test cycles over the cases' first requests with a fixed number of
// workers until the duration ends, the request cap is reached or the
// context is cancelled, whichever comes first. Latency percentiles are
// nearest-rank over successful requests; throughput counts successful
// requests per second; the error rate counts HTTP errors, timeouts,
// transport errors and malformed answers. The SDK client throttles itself
// to 15 requests/s and keeps few idle connections per host, so build the
// client used for load from a config passed through TuneForLoad first.
//
// # Metrics
//
// The export is read with servingmetrics.Scrape before any traffic and
// again after it, re-read while it lags behind (MetricsConfig.Settle). The
// windows that closed in between must count at least the requests the
// endpoint answered, over every served entity, and show no new 5xx.
// Parsing and windowing are package servingmetrics', which the production
// canary reads the export with too, so both count the same requests.
package verify
