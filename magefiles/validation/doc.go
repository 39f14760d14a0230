// Package validation is the gate between staging and production: it judges
// a challenger model version against the champion that production serves,
// on a labelled evaluation set (tests/validation/cases.json) and on recorded
// production requests, before the challenger sees any production traffic.
//
// The package is pure: it reads the set, scores answers and decides; the
// cd package's validate flow asks the endpoints and keeps the verdict.
//
//   - set.go: the evaluation set (Case, Expect, LoadSet), checked on load.
//   - score.go: one version's Scorecard: must-interrupt recall,
//     false-interrupt rate and tool accuracy, overall, per tool and per
//     tag, each a Rate with its 95% Wilson interval, and the misses.
//   - verdict.go: Judge compares challenger and champion. The gate fails
//     when the challenger's must-interrupt recall is below the champion's or
//     below Policy.MinInterruptRecall, or when a request labelled
//     must-interrupt that the champion interrupts is answered by the
//     challenger without an interrupt (a safety flip, listed by request).
//     CompareShadow does the same for recorded production requests (the
//     endpoint's inference table), where, with no label, every request the
//     champion interrupted and the challenger does not is a flip.
//   - report.go: the verdict as Markdown; the JSON is the Verdict itself.
package validation
