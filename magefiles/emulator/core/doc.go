// Package core is what the emulator's services share: the Databricks error
// body (Error) and its usual codes, the strict decoding of request bodies
// and query strings into the SDK's own structs (DecodeBody, DecodeQuery),
// which refuses unknown fields and values of the wrong JSON type as the
// service does, the Route a service package hands the server to mount
// behind its gateway (Guarded answers one under the service's lock), the
// Clock (with ManualClock for tests and Scaled for service time), the id
// Sequence and the seeded Random generator one workspace's services draw
// from, offset paging (PageToken, Page), and LoggedModel, what a training
// run hands a model registry. Every service package (workspacefiles,
// tracking, registry, jobs, serving, unitycatalog, sqlwarehouse) answers
// through them, so every route fails the same way.
//
// Read error.go, decode.go, route.go, then the small rest.
package core
