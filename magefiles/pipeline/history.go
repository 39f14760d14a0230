package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"

	"github.com/hitl-mlops/interrupt-agent/magefiles/atomicfile"
)

// history is how long each task took the last time it ran, kept in the
// cache directory. With more than one job the ready tasks start longest
// first: a long task started last runs alone at the end while the other
// cores idle, which is most of what separates a parallel run from its
// ideal. Only tasks that ran are recorded: a cached run says nothing
// about how long the work takes.
type history map[string]float64

const historyFile = "durations.json"

// readHistory reads dir's history; none (a fresh checkout) is empty.
func readHistory(dir string) history {
	h := history{}
	// #nosec G304 -- the pipeline's own file in its cache directory
	b, err := os.ReadFile(filepath.Join(dir, historyFile))
	if err == nil {
		_ = json.Unmarshal(b, &h) // unreadable: start in declared order
	}
	return h
}

// record keeps the times of the tasks that ran, over those of the last
// run, and reports whether any did (an all-cached run has nothing to write).
func (h history) record(results []Result) bool {
	ran := false
	for _, r := range results {
		if r.Status == StatusPass || r.Status == StatusFail {
			h[r.Name] = r.Duration.Seconds()
			ran = true
		}
	}
	return ran
}

// write replaces dir's history whole: concurrent runs of one checkout may
// write at once, and the last one wins.
func (h history) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, historyFile), b, 0o644)
}

// startOrder is the order in which ready tasks are considered for a free
// job: longest last time first, tasks never timed before those (they may
// be long), declaration order among equals. One job keeps the declared
// order, so -j=1 stays a predictable serial run.
func (h history) startOrder(tasks []Task, jobs int) []int {
	order := make([]int, len(tasks))
	for i := range order {
		order[i] = i
	}
	if jobs <= 1 {
		return order
	}
	sort.SliceStable(order, func(a, b int) bool {
		da, okA := h[tasks[order[a]].Name]
		db, okB := h[tasks[order[b]].Name]
		if okA != okB {
			return !okA
		}
		return da > db
	})
	return order
}
