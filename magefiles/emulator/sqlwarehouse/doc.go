// Package sqlwarehouse is the emulator's Databricks SQL: one workspace's
// SQL warehouse and the Statement Execution API over it, with its own lock,
// answering the routes databricks-sdk-go calls (Routes): warehouses list
// and get, statements execute and get.
//
// Each workspace has one warehouse, seeded RUNNING with a stable id
// (Options.ID), so a bundle variable can name it. Statements run at once:
// a wait_timeout of 5s to 50s (10s when unset) answers SUCCEEDED or FAILED
// in the execute call, "0s" answers PENDING and the statement's GET has the
// result, so the SDK's ExecuteStatement and ExecuteAndWait both work.
//
// Only format JSON_ARRAY with disposition INLINE is served, and only a tiny
// SQL subset runs (parse.go):
//
//	SELECT <col>[, <col>...] | * FROM <catalog>.<schema>.<table>
//	  [WHERE <col> = <int> | '<string>' [AND ...]]
//	  [ORDER BY <col> [ASC|DESC]] [LIMIT <n>]
//
// over the metastore's tables (the inference payload tables serving
// endpoints fill, and the system tables such as
// system.serving.served_entities). Anything else is a FAILED statement
// whose error says so. SQL errors are FAILED statements answered with HTTP
// 200, as the service answers them; request errors (an unknown warehouse,
// an unsupported format) are HTTP errors. Values are rendered as
// JSON_ARRAY renders them: every value a string (a MAP or ARRAY as JSON
// text, a TIMESTAMP as ISO 8601 such as 2026-12-07T14:03:00.123Z), or
// null; the tables hold their cells so rendered. A MAP, ARRAY or STRUCT
// column cannot be compared in WHERE.
//
// The store reads tables through Options.Tables (the metastore) before it
// takes its own lock, so no lock is ever held across the two. Statements
// live in memory only: a statement id does not survive a restart, as a
// statement's result expires on the service.
package sqlwarehouse
