// Package canary is the canary benchmark (mage bench:canary): it
// simulates rollouts minute by minute and tallies what the production
// judge (package rollout/judge) decides, beside a fixed-threshold judge
// (package thresholds) fed the same minutes, so the README's table shows
// what the sequential test buys.
//
// Read simulate.go first: a Grid is baseline error rates x canary requests
// per minute x Candidates (identical, 1.5x, 3x, 6x, +5 points); Simulate
// runs every cell Runs times from one seeded generator, so a report is the
// same on every run. Request counts are fixed at the cell's rates and
// error counts drawn binomially (package binomial); the threshold judge
// sees the errors as 5xx, the only errors it counts, the sequential judge
// as 4xx, and no latency is simulated, so the sequential judge keeps all
// of its alpha for errors, as on a workspace that exports no latency.
//
// goals.go holds each candidate's goal (identical aborted in at most 1% of
// runs; 3x, 6x and +5 points caught often and early enough, where traffic
// allows) and the oracle: the power of the best fixed-sample test that
// knows the baseline rate, so a missed goal says whether any judge could
// have met it. report.go renders the Markdown table and writes
// canary.json and canary.md.
package canary
