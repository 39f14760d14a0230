// Package e2e drives whole release flows through the functions the mage
// targets call (cd.Deploy, cd.RunVerify, cd.Plan, cd.Status) against the
// workspace emulator, with the project's real bundle in a real git
// repository, and asserts the workspace the flows leave behind: model
// versions and their lineage, endpoint configs, release records. Bad input
// and injected faults each get a test that checks the message, the failure
// and, where validation should stop a run, that nothing was changed.
//
// Most tests put every environment in one workspace (newWorld), where
// promotion copies the verified version; workspaces_test.go puts dev,
// staging and prod in three (newWorlds, emulator.StartWorkspaces, each run
// holding DATABRICKS_HOST_<ENV> and DATABRICKS_TOKEN_<ENV>), where staging
// and prod train each release themselves.
package e2e
