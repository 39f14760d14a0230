// Package thresholds is a fixed-threshold canary judge, the yardstick the
// canary benchmark (package canary, mage bench:canary) measures the
// sequential judge (package rollout/judge) against on the same simulated
// minutes. No rollout uses it: thresholds applied to every interval abort
// healthy candidates far more often than their settings suggest, and
// showing by how much is its job.
//
// Read evaluate.go, then decide.go. Evaluate judges one interval's
// measurement:
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
// Only 5xx count as errors, although a model's exceptions reach callers as
// 4xx: the benchmark feeds it the simulated errors as 5xx. Decide folds the
// results: worst phase wins, abort at FailureLimit failed,
// ConsecutiveErrorLimit errors in a row or InconclusiveLimit inconclusive
// intervals, promote at Count successful ones. With the settings of
// canary.DefaultThresholdJudge it aborts healthy candidates in up to 77% of
// runs in some cells of the benchmark.
package thresholds
