package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Task is one node of the graph.
type Task struct {
	// Name identifies the task in output, dependencies and the cache.
	Name string
	// Deps names tasks that must pass (or be cached or skipped) first.
	Deps []string
	// Inputs decide when a previous pass can be reused. A task without
	// input files is never cached.
	Inputs Inputs
	// Waits marks a task whose time is mostly waiting (on a server, a
	// release's real-time steps), not CPU: with more than one job it runs
	// beside the jobs instead of taking one, so the CPU-bound tasks keep
	// every core busy meanwhile. -j=1 still runs it alone.
	Waits bool
	// Run does the work. Output goes to t.Out(); findings to t.Finding.
	// Return Skip(reason) when the task cannot run here.
	Run func(ctx context.Context, t *T) error
}

// Inputs are everything a task's result depends on.
type Inputs struct {
	// Files are glob patterns relative to the root; `**` matches any number
	// of directories ("**/*.py", "src/**", "go.sum").
	Files []string
	// Names are glob patterns like Files whose matching paths count, not
	// their contents: for a task that copies or lists files without its
	// result depending on what they say.
	Names []string
	// Config holds settings that change the result (flags, thresholds).
	Config []string
	// Env names environment variables whose values matter.
	Env []string
	// Version reports the versions of the tools the task runs. An error
	// makes this run uncacheable rather than failing it.
	Version func(ctx context.Context) (string, error)
	// Extra adds what only a look at the repository can decide: a
	// description and more file patterns, both part of the key (a check
	// whose inputs depend on what the code imports). An error makes this
	// run uncacheable, as Version's does.
	Extra func(ctx context.Context) (desc string, files []string, err error)
}

// SkipError marks a task that did not run, with the reason shown to the user.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return "skipped: " + e.Reason }

// Skip returns the error a task returns when it cannot run here. A skip is
// never a pass: the summary shows it with its reason.
func Skip(format string, args ...any) error {
	return &SkipError{Reason: fmt.Sprintf(format, args...)}
}

// IsSkip reports whether err is a skip and returns its reason.
func IsSkip(err error) (string, bool) {
	var s *SkipError
	if errors.As(err, &s) {
		return s.Reason, true
	}
	return "", false
}

// Finding is one problem a check reports at a location.
type Finding struct {
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Col      int    `json:"col,omitempty"`
	Rule     string `json:"rule,omitempty"`
	Severity string `json:"severity,omitempty"` // error (default), warning, notice
	Message  string `json:"message"`
}

// T is a running task's handle: its output and its findings.
type T struct {
	name      string
	root      string
	artifacts string
	out       io.Writer
	cache     *cache
	getenv    func(string) string
	noCache   bool

	mu       sync.Mutex
	findings []Finding
	summary  string
}

// Name returns the task's name.
func (t *T) Name() string { return t.name }

// Root returns the repository root the task works on.
func (t *T) Root() string { return t.root }

// Artifacts returns the directory reports are written under.
func (t *T) Artifacts() string { return t.artifacts }

// Out is where the task writes its log; the runner buffers or streams it.
func (t *T) Out() io.Writer { return t.out }

// PartKey is the cache key of one part of the task (a package of a test
// group), computed from its own inputs as a task's key is, over the run's
// file index; ok is false when the part cannot be cached.
func (t *T) PartKey(ctx context.Context, part string, in Inputs) (key string, ok bool, err error) {
	if t.cache == nil {
		return "", false, nil
	}
	return t.cache.key(ctx, Task{Name: t.name + "/" + part, Inputs: in}, t.getenv)
}

// PartPassed returns what a part recorded when it last passed with this
// key (RecordPart), unless the run ignores the cache (-nocache).
func (t *T) PartPassed(part, key string) ([]byte, bool) {
	if t.cache == nil || t.noCache {
		return nil, false
	}
	e, ok := t.cache.lookup(t.name+"/"+part, key)
	if !ok {
		return nil, false
	}
	return e.Data, true
}

// RecordPart keeps what a part that passed with this key needs to be
// reported again without running (its counts, its coverage).
func (t *T) RecordPart(part, key string, data []byte) error {
	if t.cache == nil {
		return nil
	}
	return t.cache.store(t.name+"/"+part, cacheEntry{Key: key, Data: data})
}

// Printf writes a line of log.
func (t *T) Printf(format string, args ...any) {
	fmt.Fprintf(t.out, format+"\n", args...)
}

// Finding records a problem at a location.
func (t *T) Finding(f Finding) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f.Severity == "" {
		f.Severity = "error"
	}
	t.findings = append(t.findings, f)
}

// Summary sets the one-line result shown in the summary table, such as
// "2 files need formatting" or "41 passed, coverage 93%".
func (t *T) Summary(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.summary = fmt.Sprintf(format, args...)
}

func (t *T) snapshot() ([]Finding, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Finding(nil), t.findings...), t.summary
}
