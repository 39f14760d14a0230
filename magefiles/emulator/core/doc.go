// Package core is what the emulator's services share: the Databricks error
// body (Error), the strict decoding of request bodies and query strings
// into the SDK's own structs (DecodeBody, DecodeQuery), which refuses
// unknown fields and values of the wrong JSON type as the service does, the
// Route a service package hands the server to mount behind its gateway,
// the Clock, the id Sequence and the seeded Random generator one
// workspace's services draw from, and offset paging (PageToken, Page). The
// workspace services in package emulator and the service packages
// (workspacefiles, tracking, unitycatalog, sqlwarehouse) answer through
// them, so every route fails the same way.
package core
