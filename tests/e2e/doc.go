// Package e2e drives whole release flows through the functions the mage
// targets call (cd.Deploy, cd.RunVerify, cd.Plan, cd.Status) against the
// workspace emulator, with the project's real bundle in a real git
// repository, and asserts the workspace the flows leave behind: model
// versions and their lineage, endpoint configs, release records. Bad input
// and injected faults each get a test that checks the message, the failure
// and, where validation should stop a run, that nothing was changed.
package e2e
