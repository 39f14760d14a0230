package pipeline

import (
	"fmt"
	"sort"
	"strings"
)

// validate checks names and dependencies and returns the tasks in a
// dependency-respecting order (stable: declaration order where free).
func validate(tasks []Task) ([]Task, error) {
	byName := make(map[string]int, len(tasks))
	for i, t := range tasks {
		if t.Name == "" {
			return nil, fmt.Errorf("task %d has no name", i)
		}
		if t.Run == nil {
			return nil, fmt.Errorf("task %q has no Run function", t.Name)
		}
		if _, dup := byName[t.Name]; dup {
			return nil, fmt.Errorf("task %q is defined twice", t.Name)
		}
		byName[t.Name] = i
	}
	for _, t := range tasks {
		for _, d := range t.Deps {
			if _, ok := byName[d]; !ok {
				return nil, fmt.Errorf("task %q depends on unknown task %q", t.Name, d)
			}
		}
	}

	const (
		unvisited = iota
		visiting
		visited
	)
	state := make([]int, len(tasks))
	var order []Task
	var stack []string
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case visited:
			return nil
		case visiting:
			return fmt.Errorf("dependency cycle: %s -> %s", strings.Join(stack, " -> "), tasks[i].Name)
		}
		state[i] = visiting
		stack = append(stack, tasks[i].Name)
		for _, d := range tasks[i].Deps {
			if err := visit(byName[d]); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = visited
		order = append(order, tasks[i])
		return nil
	}
	for i := range tasks {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// dependents[i][j] says whether ordered[j] depends on ordered[i],
// directly or through other tasks: it cannot start before i finishes.
// ordered is in dependency order.
func dependents(ordered []Task, index map[string]int) [][]bool {
	after := make([][]bool, len(ordered))
	for i := range ordered {
		after[i] = make([]bool, len(ordered))
	}
	for j, t := range ordered {
		for _, d := range t.Deps {
			i := index[d]
			after[i][j] = true
			// Whatever d waits for, j waits for too (d comes before j in
			// ordered, so what d waits for is already marked).
			for k := range ordered {
				if after[k][i] {
					after[k][j] = true
				}
			}
		}
	}
	return after
}

// Select returns the named tasks plus everything they depend on, in the
// original order. Unknown names are an error listing what exists.
func Select(tasks []Task, names ...string) ([]Task, error) {
	byName := make(map[string]Task, len(tasks))
	for _, t := range tasks {
		byName[t.Name] = t
	}
	want := map[string]bool{}
	var add func(string) error
	add = func(n string) error {
		t, ok := byName[n]
		if !ok {
			known := make([]string, 0, len(tasks))
			for _, t := range tasks {
				known = append(known, t.Name)
			}
			sort.Strings(known)
			return fmt.Errorf("unknown check %q (known: %s)", n, strings.Join(known, ", "))
		}
		if want[n] {
			return nil
		}
		want[n] = true
		for _, d := range t.Deps {
			if err := add(d); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range names {
		if err := add(n); err != nil {
			return nil, err
		}
	}
	var out []Task
	for _, t := range tasks {
		if want[t.Name] {
			out = append(out, t)
		}
	}
	return out, nil
}
