// Package pipeline runs a graph of named tasks (the checks behind `mage ci`)
// in parallel on a bounded pool, buffers each task's output and prints it in
// one piece, caches passes by the content hash of their inputs, and reports
// every result in a summary table, a JSON report and GitHub Actions markup.
// The graph is its own rather than mg.Deps because a run must say which
// dependency failed, bound its parallelism, buffer output and cache.
//
// Reading order:
//
//  1. task.go: a Task is a name, the tasks it waits for (Deps), its Inputs
//     and a Run function; T is the running task's handle (log, findings,
//     summary line, per-part keys and records); Skip says why a task
//     cannot run here.
//  2. graph.go: validate orders the tasks by their dependencies; Select
//     picks the named ones and what they depend on.
//  3. runner.go: Run schedules ready tasks, at most Options.Jobs at a
//     time (a task that Waits runs beside them); runOne computes a task's
//     key, reports a cached pass for a known key, or runs it, counts the
//     CPU of the commands it runs (package cputime) and records its pass.
//     A task that runs beside others gets its share of the cores
//     (Options.CPUs / Jobs, at least one), which the tool runner hands to
//     the Go programs it starts; one left alone to the end gets them all.
//     history.go: with more than one job the ready tasks start longest
//     first by their last run's time (.cache/ci/durations.json); -j=1
//     keeps the declared order.
//  4. cache.go and files.go: the key hashes the task's name, Config
//     strings, Env values, tool versions (Version), what Extra decides,
//     and the contents of the files its patterns match (paths only for
//     Names), over one file index per run that hashes each file once. A
//     task without input files is never cached; entries live in
//     .cache/ci, one file per task.
//  5. output.go: the per-task blocks, the progress line, the summary
//     table (the status word in STATUS, why and the result in RESULT), the
//     step summary, the JSON report and workflow annotations.
package pipeline
