package ci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/checks"
	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// runMage times `go run mage.go args...` in dir; for ci it returns the
// run's report (a failing check still writes one; no report means mage
// itself did not run).
func runMage(ctx context.Context, dir string, args ...string) (time.Duration, *pipeline.Report, error) {
	isCI := len(args) > 0 && args[0] == "ci"
	if isCI {
		// A stale report must never pass for this run's.
		if err := os.Remove(checks.ReportPath(dir)); err != nil && !os.IsNotExist(err) {
			return 0, nil, err
		}
	}
	var out bytes.Buffer
	start := time.Now()
	err := toolchain.Run(ctx, toolchain.Cmd{Name: "go", Args: append([]string{"run", "mage.go"}, args...), Dir: dir,
		Env: []string{"NO_COLOR=1", "GITHUB_ACTIONS=", "GITHUB_STEP_SUMMARY="}, Stdout: &out, Stderr: &out})
	wall := time.Since(start)
	if ctx.Err() != nil {
		return wall, nil, ctx.Err()
	}
	if !isCI {
		if err != nil {
			return wall, nil, fmt.Errorf("go run mage.go %s: %w: %s", strings.Join(args, " "), err, toolchain.Tail(out.String(), 10))
		}
		return wall, nil, nil
	}
	rep, rerr := readReport(checks.ReportPath(dir))
	if rerr != nil {
		return wall, nil, fmt.Errorf("go run mage.go %s in %s wrote no report (%v): %s", strings.Join(args, " "), dir, err, toolchain.Tail(out.String(), 15))
	}
	return wall, rep, nil
}

func readReport(path string) (*pipeline.Report, error) {
	// #nosec G304 -- a ci report this benchmark just had mage ci write under artifacts/
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r pipeline.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return &r, nil
}

func failedTasks(r *pipeline.Report) []string {
	var out []string
	for _, res := range r.Results {
		if res.Status == pipeline.StatusFail || res.Status == pipeline.StatusBlocked {
			out = append(out, res.Name)
		}
	}
	return out
}

func countStatus(r *pipeline.Report, s pipeline.Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
