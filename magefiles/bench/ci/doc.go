// Package ci is the CI benchmark (mage bench:ci): it times `go run
// mage.go ci` on a fresh clone of the repository's HEAD, as a developer
// runs it, and writes artifacts/bench/ci.json and ci.md after every
// figure, so a bench cut short still leaves what it measured.
//
// Read measure.go first: Measure takes the figures as named steps, in
// this order: (a) fresh, building the pinned tools (or sharing the tools
// of Options.Caches, unmeasured); the Base commit's cold run when asked;
// (b) cold with -nocache; (d) warm, all cached; (e) and (f) after a
// one-line edit of a Go and a Python file; (c) (b) with -j=1, last as the
// longest; mage's own start-up. Checks that failed in (b) are left out of
// (d), (e) and (f): a failure is never cached and would measure itself.
//
// runs.go runs mage in the clone and reads the report each ci run writes
// (artifacts/ci-report.json, via package checks); clone.go prepares the
// clone (shared tool caches, the one-line edits); result.go is the Result,
// its Markdown table and the goals each figure is held to.
package ci
