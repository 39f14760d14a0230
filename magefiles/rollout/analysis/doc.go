// Package analysis is the pure core of the production canary: it turns two
// scrapes of a serving endpoint's metrics export into per-entity numbers for
// the interval between them, judges the candidate against the baseline, and
// folds the judgements of successive intervals into continue, promote or
// abort. Nothing here does I/O beyond reading the reader it is given, keeps
// state between calls, or looks at a clock; the rollout loop owns all of that.
//
// The pipeline for one interval is
//
//	prev, _ := ParseMetrics(scrapeAtStart)
//	cur, _ := ParseMetrics(scrapeAtEnd)
//	result := Evaluate(Measure(Delta(prev, cur), candidate, baseline), policy)
//	decision := Decide(append(results, result), limits)
//
// (Analyze does the middle line in one call; ErrorResult turns a scrape or
// parse failure into an Error result so it counts toward the consecutive
// error limit instead of stopping the loop.)
//
// # Metrics export
//
// ParseMetrics reads the Prometheus text exposition format and keeps four
// families: the counters request_count_total, request_4xx_count_total and
// request_5xx_count_total (the same names without the _total suffix are
// accepted too), and the histogram request_latency_ms in milliseconds. A
// histogram exposed as loose request_latency_ms_bucket / _count / _sum
// samples without a TYPE line is reassembled. Counters exposed as untyped or
// gauge are read as counters. Other families are ignored, and a missing
// family reads as zero.
//
// The served entity of a series is the value of the first of these labels
// that the series carries: served_entity_name, served_model_name, entity,
// served_entity. Series that carry none of them cannot be attributed and are
// only counted (Snapshot.Unattributed). Series of one entity that differ in
// other labels (status code, method, replica) are summed; histograms with
// different bucket layouts are merged on the union of their bounds, a series
// contributing its count at its nearest bound below (an undercount, never an
// invented observation).
//
// Input that cannot be trusted is an error, not a guess: malformed text,
// a value that is negative, NaN or infinite, two series with the same
// labels, two buckets with the same bound, bucket counts that decrease as
// the bound grows, or a _count below the highest bucket.
//
// # Intervals
//
// A Snapshot holds cumulative counters. Delta subtracts the previous scrape
// from the current one per entity. A counter that went backwards was reset
// (the serving replica restarted), and its current value is taken as the
// interval's count, as Prometheus' rate() does; the entity is flagged Reset.
// A latency histogram whose layout changed between scrapes is treated the
// same way. An entity absent from the previous scrape started during the
// interval and counts from zero. p95 comes from the histogram's bucket deltas
// with linear interpolation inside the bucket, like histogram_quantile: the
// first bucket starts at 0, a rank that falls in the +Inf bucket reports the
// highest finite bound, and a histogram without a +Inf bucket uses _count (or
// else its highest bucket) as the total. No observations means p95 is NaN,
// which every consumer treats as unknown, never as zero.
//
// # Judging one interval
//
// Only 5xx responses count toward the error rate: 4xx answers are caused by
// the caller's request and would punish a candidate for its clients' bugs.
// The 4xx rate is measured and reported alongside, so a candidate that starts
// rejecting valid input is visible in the evidence.
//
// Evaluate applies, in this order:
//
//  1. Error if the policy or the measurement is invalid (negative or NaN
//     counts).
//  2. Inconclusive if the candidate served no requests.
//  3. Below MinRequests the sample is too small to judge, so the result is
//     Inconclusive, with one exception: if the candidate's 5xx count already
//     exceeds MinRequests x the error-rate limit, no amount of further
//     successful traffic up to MinRequests could bring the rate under the
//     limit, and the result is Failed. Latency is not judged on a small
//     sample.
//  4. Failed if the candidate's error rate exceeds
//     max(MaxErrorRate, baseline error rate + ErrorRateMargin).
//  5. Failed if MaxLatencyRatio > 0, both p95 values are known, and the
//     candidate's p95 exceeds baseline p95 x MaxLatencyRatio.
//  6. Successful otherwise.
//
// The baseline takes part only when it served at least MinRequests in the
// interval (and at least one). A baseline without that much traffic, or no
// baseline at all (the first release), leaves the absolute MaxErrorRate as
// the only error limit and skips the latency comparison; the reason says so.
// The limits are strict: a rate exactly at the limit passes.
//
// # Folding intervals
//
// Decide counts the results so far. Worst phase wins: it aborts when the
// failed intervals reach FailureLimit (in total, not only consecutive ones, so
// a flapping candidate cannot slip through), when the Error intervals in a row
// reach ConsecutiveErrorLimit, or when the inconclusive intervals reach
// InconclusiveLimit (a canary that cannot be judged is not promoted); only
// then does it promote once the successful intervals reach Count. Otherwise
// it continues. All limits count "reached", so FailureLimit 1 aborts on the
// first failure.
package analysis
