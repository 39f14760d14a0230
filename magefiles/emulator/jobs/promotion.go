package jobs

import (
	"strings"

	"github.com/databricks/databricks-sdk-go/service/jobs"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

// A job task that passes --target-model is the promotion job's copy task
// (src/promote_job.py, the bundle's promote_model job). When its run
// succeeds, the task does what the Python task does, as the workspace's own
// principal, through Options.Promoter (the shared metastore's Promote):
// it finds or makes the copy of --source-model v--source-version in
// --target-model, sets --release-alias on it and prints the report JSON as
// the last line of its logs:
//
//	{"copied": true, "model_name": "staging.s.m", "model_version": "1", "release_alias": "release_v1_2_0", "source_model": "dev.s.m", "source_version": "3"}
//
// A missing privilege on the source (PERMISSION_DENIED ...), a missing
// model or version, or a copy that fails registration fails the task with
// the error in its output.

// promotes reports whether a task is the promotion copy task.
func promotes(t jobs.Task) bool {
	var params []string
	switch {
	case t.SparkPythonTask != nil:
		params = t.SparkPythonTask.Parameters
	case t.PythonWheelTask != nil:
		params = t.PythonWheelTask.Parameters
		for k := range t.PythonWheelTask.NamedParameters {
			params = append(params, "--"+k)
		}
	}
	for _, p := range params {
		if name, _, _ := strings.Cut(p, "="); name == "--target-model" || name == "--target_model" {
			return true
		}
	}
	return false
}

// promote runs a promotion task; the report is its output. Call with s.mu held.
func (s *Store) promote(run *runRec, t *taskRec) (map[string]any, error) {
	args := taskArgs(run, t)
	report, err := s.promoter.Promote(s.user, unitycatalog.Promotion{
		SourceModel: args["source_model"], SourceVersion: args["source_version"],
		TargetModel: args["target_model"], ReleaseAlias: args["release_alias"], Release: args["release"],
	})
	if err != nil {
		return nil, err
	}
	return report.Fields(), nil
}
