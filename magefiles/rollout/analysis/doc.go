// Package analysis is the canary's former judge, kept so the benchmark
// (mage bench:canary) can run it beside the sequential judge (package
// judge) on the same simulated minutes: fixed thresholds per interval,
// folded with failure and inconclusive limits. The rollout no longer uses
// it, and the metrics export is read by package servingmetrics.
//
// Evaluate judges one interval's measurement:
//
//  1. Error if the policy or the measurement is invalid (negative or NaN
//     counts).
//  2. Inconclusive if the candidate served no requests.
//  3. Below MinRequests the sample is too small to judge (Inconclusive),
//     unless the candidate's 5xx already exceed MinRequests x the limit
//     (Failed).
//  4. Failed if the candidate's 5xx rate exceeds
//     max(MaxErrorRate, baseline rate + ErrorRateMargin).
//  5. Failed if MaxLatencyRatio > 0, both p95 values are known, and the
//     candidate's p95 exceeds baseline p95 x MaxLatencyRatio.
//  6. Successful otherwise.
//
// Only 5xx counted as errors, which is one of the reasons it was replaced:
// a model's exceptions reach callers as 4xx. Decide folds the results:
// worst phase wins, abort at FailureLimit failed, ConsecutiveErrorLimit
// errors in a row or InconclusiveLimit inconclusive intervals, promote at
// Count successful ones. With the former bundle defaults it aborted healthy
// candidates in up to 77% of runs in some cells of the benchmark.
package analysis
