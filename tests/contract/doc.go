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
// Every cited test lives here, the model-error and metrics-export ones
// included, and reaches the emulator only through its exported options and
// methods (Behavior, SetVersionBehavior, EntityStats, MetricsClock,
// Metrics). The emulator's own tests (magefiles/emulator) keep what is its
// own: scripted answers, latency draws, the traffic split, option checks.
package contract
