// Package bench is the home of the benchmarks of the automation itself,
// one subpackage per benchmark; the mage targets bench:ci and
// bench:canary (magefiles/bench.go) only call them, and each writes its
// figures under artifacts/bench/.
//
//   - ci (bench:ci) times `mage ci` on a fresh clone of HEAD: fresh, cold,
//     warm, after one-line edits, serial (ci.json, ci.md).
//   - canary (bench:canary) simulates canary rollouts and tallies the
//     verdicts of the production judge (package rollout/judge) beside a
//     fixed-threshold judge (canary/thresholds) on the same minutes
//     (canary.json, canary.md).
//
// Nothing in production imports these packages; the judge's own tests use
// canary/binomial to draw simulated error counts.
package bench
