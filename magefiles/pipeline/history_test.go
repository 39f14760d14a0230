package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartOrder(t *testing.T) {
	tasks := []Task{{Name: "short"}, {Name: "new"}, {Name: "long"}, {Name: "medium"}, {Name: "also-new"}}
	h := history{"short": 1, "long": 90, "medium": 12}
	names := func(order []int) []string {
		var out []string
		for _, i := range order {
			out = append(out, tasks[i].Name)
		}
		return out
	}
	tests := []struct {
		name string
		h    history
		jobs int
		want []string
	}{
		{"longest first, never timed before them", h, 2, []string{"new", "also-new", "long", "medium", "short"}},
		{"one job keeps the declared order", h, 1, []string{"short", "new", "long", "medium", "also-new"}},
		{"no history keeps the declared order", history{}, 4, []string{"short", "new", "long", "medium", "also-new"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, names(tt.h.startOrder(tasks, tt.jobs)))
		})
	}
}

// The second run starts the task the first run found longest before the
// ones declared ahead of it; a run that only reuses cached passes leaves
// the times as they were.
func TestARunStartsTheLongestTaskFirstNextTime(t *testing.T) {
	var mu sync.Mutex
	var starts []string
	task := func(name string, d time.Duration) Task {
		return Task{Name: name, Inputs: Inputs{Files: []string{"in.txt"}}, Run: func(context.Context, *T) error {
			mu.Lock()
			starts = append(starts, name)
			mu.Unlock()
			time.Sleep(d)
			return nil
		}}
	}
	tasks := []Task{task("a", 50*time.Millisecond), task("b", 50*time.Millisecond), task("c", 50*time.Millisecond), task("long", 300*time.Millisecond)}
	var out bytes.Buffer
	opts := testOptions(t, &out)
	opts.Jobs = 2
	require.NoError(t, os.WriteFile(filepath.Join(opts.Root, "in.txt"), []byte("x"), 0o644))

	_, err := Run(context.Background(), tasks, opts)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"a", "b"}, starts[:2], "no history: declared order")
	first := readHistory(filepath.Join(opts.Root, ".cache", "ci"))
	require.Contains(t, first, "long")

	_, err = Run(context.Background(), tasks, opts) // every task cached
	require.NoError(t, err)
	assert.Equal(t, first, readHistory(filepath.Join(opts.Root, ".cache", "ci")), "cached results are not times")

	starts = nil
	opts.NoCache = true
	_, err = Run(context.Background(), tasks, opts)
	require.NoError(t, err)
	assert.Contains(t, starts[:2], "long", "started with the first free job")
}
