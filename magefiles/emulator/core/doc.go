// Package core is what the emulator's services share: the Databricks error
// body (Error) and the strict decoding of request bodies and query strings
// into the SDK's own structs (DecodeBody, DecodeQuery), which refuses
// unknown fields and values of the wrong JSON type as the service does.
// Each service package (the workspace services in package emulator, Unity
// Catalog in package unitycatalog) answers through them, so every route
// fails the same way.
package core
