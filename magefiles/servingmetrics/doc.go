// Package servingmetrics reads a serving endpoint's metrics export
// (GET /api/2.0/serving-endpoints/{name}/metrics, Prometheus text) the way
// the service shapes it. Both readers of the export go through it, so they
// count alike: the verify checks (package verify: requests counted and no
// new 5xx after the traffic) and the production canary (package rollout,
// whose minutes judge.MinuteOf hands to the verdict in rollout/judge).
//
// Reading order: scrape.go (Scrape, the one read of the export through an
// Exporter, which w.ServingEndpoints satisfies, and DescribeError for the
// API's errors), parse.go (Parse: text to a Reading of per-entity Values),
// histogram.go (latency buckets, quantiles, merges), series.go (Series:
// successive readings folded into windows). Only Scrape does I/O; nothing
// here looks at a clock: the caller says when it scraped.
//
// # Families and their declared types
//
// Four families are read: request_count_total, request_4xx_count_total,
// request_5xx_count_total and the histogram request_latency_ms (milliseconds).
// Each is read by its declared TYPE, as OpenMetrics defines them:
//
//   - A gauge is a value at its sample's time. The real export declares the
//     three request families as gauges holding the count of the last minute,
//     each sample stamped with an epoch-millisecond timestamp (Databricks'
//     Datadog integration lists them as type gauge; its metadata describes
//     each as "during the last minute"). A gauge sample belongs to the minute
//     window keyed by its timestamp truncated to the minute; a gauge without
//     a timestamp belongs to the minute of the scrape.
//   - A counter is cumulative: what happened between two scrapes is the
//     difference of their values. A counter that went backwards was reset
//     (a replica restarted) and its new value is the increase, as
//     Prometheus' rate() does; the window is flagged Reset.
//   - A histogram stamped with a timestamp, or declared gaugehistogram, is a
//     per-minute histogram like the gauges; one without a timestamp is
//     cumulative like a counter. Some workspaces do not export latency at
//     all: Reading.LatencyExported says so, and consumers must say "not
//     exported", never read it as a pass.
//   - An untyped family is read as a gauge when its samples carry
//     timestamps and as a counter otherwise.
//
// The served entity of a series is the first non-empty of the labels
// served_entity_name, served_model_name, served_model, entity, served_entity
// (no Databricks page shows the export's labels; these are the spellings
// public integrations and tests use). Series of
// one entity that differ in other labels are summed (histograms on the union
// of their bucket bounds); series naming no entity are only counted
// (Unattributed). Malformed text, negative, NaN or infinite values, duplicate
// series, and histograms whose buckets decrease are errors, not guesses.
//
// # Windows
//
// A Series folds successive scrapes into windows: one per minute for gauge
// families, keyed by the minute, and one per scrape interval for counter
// families. A minute seen again in a later scrape replaces the earlier
// reading instead of being added, so a minute is never counted twice; Next
// hands each window out once, oldest first, and Revised counts minutes whose
// value changed after they were handed out. Minutes missing between the
// first and the last minute seen are gaps (Gaps), reported rather than read
// as no traffic. An entity absent from a window served nothing the export
// knows of in it; Window.Has tells the two apart.
package servingmetrics
