package checks

import (
	"context"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// RunOptions are a `mage ci` invocation's choices. Flags win over the
// environment (CI_JOBS, CI_FAIL_FAST, CI_NO_CACHE, CI_STRICT,
// CI_SECRETS_HISTORY).
type RunOptions struct {
	Only     []string // check or group names; empty = all
	Jobs     *int
	FailFast *bool
	NoCache  *bool
	Strict   *bool
	History  *bool // secret scan over every commit
	Verbose  bool
}

// ReportPath is where every run writes its JSON report.
func ReportPath(root string) string {
	return filepath.Join(root, "artifacts", "ci-report.json")
}

// Run runs the selected checks through the pipeline runner, prints the
// summary and writes artifacts/ci-report.json.
func Run(ctx context.Context, root string, ro RunOptions) (*pipeline.Report, error) {
	cfg := Config{Root: root, Strict: flagOrEnv(ro.Strict, "CI_STRICT"), History: flagOrEnv(ro.History, "CI_SECRETS_HISTORY"),
		Python: toolchain.NewPythons(toolchain.PythonCacheDir(root))}
	// Every Python check asks which interpreters exist: ask them all at
	// once, in the background, while the runner lists and hashes files.
	// Interpreters unchanged since an earlier run answer from the cache.
	waitProbes := cfg.Python.Prefetch(ctx, cfg.pythons()...)
	defer waitProbes() // every answer reaches .cache/python before the run ends
	tasks, groups := assemble(cfg)
	if len(ro.Only) > 0 {
		var err error
		if tasks, err = pipeline.Select(tasks, expand(groups, ro.Only)...); err != nil {
			return nil, err
		}
	}
	opts := pipeline.OptionsFromEnv(root)
	opts.Verbose = ro.Verbose
	opts.FailFast = flagOrEnv(ro.FailFast, "CI_FAIL_FAST")
	opts.NoCache = flagOrEnv(ro.NoCache, "CI_NO_CACHE")
	if ro.Jobs != nil {
		opts.Jobs = *ro.Jobs
	} else if n, err := strconv.Atoi(os.Getenv("CI_JOBS")); err == nil {
		opts.Jobs = n
	}
	rep, err := pipeline.Run(ctx, tasks, opts)
	if rep != nil {
		if werr := rep.WriteJSON(ReportPath(root)); werr != nil && err == nil {
			err = werr
		}
	}
	return rep, err
}

func flagOrEnv(flag *bool, env string) bool {
	if flag != nil {
		return *flag
	}
	v, err := strconv.ParseBool(os.Getenv(env))
	return err == nil && v
}
