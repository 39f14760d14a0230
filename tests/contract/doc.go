// Package contract holds the workspace emulator to Databricks' public
// contract. Each test drives the emulator through databricks-sdk-go (raw
// HTTP only where the SDK cannot express the request) and checks one
// observable behaviour of the real service; its comment names the public
// source (a document's title, or a repository path and issue number) and
// quotes the behaviour in a few words. Where no public source was found,
// the test says so.
//
// The suite describes the service, not this project's client: it imports
// the emulator and the SDK, never the client's packages (magefiles/cd,
// rollout, workspace, release, ...). The client's own tests then run
// against the emulator that this suite holds.
//
// Three cited contract tests still live beside the emulator's own tests in
// magefiles/emulator/invocations_test.go, on its internal helpers: model
// errors as 400 BAD_REQUEST and platform faults as 5xx (TestVersionBehaviors)
// and the metrics export's shape and minute windows
// (TestMetricsExportShapes, TestMetricsExportMinuteWindows). They drive the
// emulator through the SDK and HTTP the same way and belong here.
package contract
