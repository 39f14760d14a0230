package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// BenchmarkRunnerOverhead measures the runner itself: 50 no-op tasks in a
// graph where every task after the first five depends on two earlier ones.
func BenchmarkRunnerOverhead(b *testing.B) {
	tasks := make([]Task, 50)
	for i := range tasks {
		tasks[i] = Task{Name: fmt.Sprintf("t%02d", i), Run: ok}
		if i >= 5 {
			tasks[i].Deps = []string{fmt.Sprintf("t%02d", i-5), fmt.Sprintf("t%02d", i-3)}
		}
	}
	root := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var out bytes.Buffer
		if _, err := Run(context.Background(), tasks, Options{Root: root, Out: &out}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWarmCache measures an all-cached run of 10 tasks over 200 files.
func BenchmarkWarmCache(b *testing.B) {
	root := b.TempDir()
	for i := 0; i < 200; i++ {
		writeFileB(b, root, fmt.Sprintf("pkg%d/f%d.go", i%10, i), fmt.Sprintf("package p\n// %d\n", i))
	}
	var tasks []Task
	for i := 0; i < 10; i++ {
		tasks = append(tasks, Task{Name: fmt.Sprintf("check%d", i), Inputs: Inputs{Files: []string{"**/*.go"}}, Run: ok})
	}
	var out bytes.Buffer
	if _, err := Run(context.Background(), tasks, Options{Root: root, Out: &out}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out.Reset()
		rep, err := Run(context.Background(), tasks, Options{Root: root, Out: &out})
		if err != nil || rep.Results[0].Status != StatusCached {
			b.Fatalf("expected a cached run: %v", err)
		}
	}
}
