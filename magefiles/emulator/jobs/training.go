package jobs

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// A job run simulates the project's training entry point
// (python -m human_interrupt_agent.train). The task that trains is the first
// task whose key, file, notebook or entry point mentions "train", or that
// passes --model-name. Its arguments (task parameters, run-now overrides and
// job parameters, with {{job.parameters.*}} references resolved) are read as
// train.py reads them: --model-name, --experiment, --git-sha, --release,
// --threshold, --min-accuracy, --dry-run. A successful run then, like
// train.py with mlflow present:
//
//   - creates an MLflow run (named train-<release>) in the experiment, with
//     params, metrics, tags (git_sha, release, mlflow.databricks.jobID,
//     mlflow.databricks.jobRunID) and the model artifact under
//     ModelArtifactPath, so the model is at runs:/<run_id>/agent;
//   - registers it under --model-name through Options.Models, which the
//     workspace wires to both registries: a three-level name
//     (catalog.schema.model) as a Unity Catalog version of the existing
//     model, registered as MLflow's databricks-uc registry does (create,
//     credentials, upload, finalize: READY when the run ends, or
//     FAILED_REGISTRATION when scripted; a task scripted to die mid-way
//     fails the run and leaves the version PENDING_REGISTRATION; a missing
//     model or privilege fails the run with the error in its logs); any other name
//     as a workspace-registry version (READY by the end of the run, as
//     mlflow's log_model waits for it), or, with the legacy registry
//     disabled, fails the run with the registry's 403 message;
//   - prints the report JSON as the last line of the task's logs (notebook
//     tasks: as the notebook exit value). Its "run_id" is the MLflow run id
//     and "model_version" the registered version:
//     {"accuracy": 1.0, ..., "model_name": "m", "model_version": "3", "run_id": "<32 hex>", ...}
//
// The deploy stage finds the run id from jobs/runs/get-output of the
// training task's run id (Run.Tasks[i].RunId): the last line of Logs, or
// NotebookOutput.Result.

// ModelArtifactPath is where the training task logs the model in its MLflow
// run (train.py's log_model default).
const ModelArtifactPath = "agent"

type trainArgs struct {
	ModelName, Experiment, GitSHA, Release string
	Threshold, MinAccuracy                 float64
	DryRun                                 bool
}

// trains reports whether a task is the training entry point.
func trains(t jobs.Task) bool {
	hay := []string{t.TaskKey}
	if t.SparkPythonTask != nil {
		hay = append(hay, t.SparkPythonTask.PythonFile)
		hay = append(hay, t.SparkPythonTask.Parameters...)
	}
	if t.PythonWheelTask != nil {
		hay = append(hay, t.PythonWheelTask.EntryPoint, t.PythonWheelTask.PackageName)
		hay = append(hay, t.PythonWheelTask.Parameters...)
		for k := range t.PythonWheelTask.NamedParameters {
			hay = append(hay, "--"+k)
		}
	}
	if t.NotebookTask != nil {
		hay = append(hay, t.NotebookTask.NotebookPath)
		for k := range t.NotebookTask.BaseParameters {
			hay = append(hay, "--"+k)
		}
	}
	for _, h := range hay {
		h = strings.ToLower(h)
		if strings.Contains(h, "train") || strings.HasPrefix(h, "--model-name") || strings.HasPrefix(h, "--model_name") {
			return true
		}
	}
	return false
}

var paramRef = regexp.MustCompile(`\{\{\s*([a-z_.]+?)\s*\}\}`)

// resolveRefs replaces the dynamic value references a task may use.
func resolveRefs(v string, run *runRec, taskKey string) string {
	return paramRef.ReplaceAllStringFunc(v, func(m string) string {
		ref := paramRef.FindStringSubmatch(m)[1]
		switch {
		case strings.HasPrefix(ref, "job.parameters."):
			if val, ok := run.Params[strings.TrimPrefix(ref, "job.parameters.")]; ok {
				return val
			}
		case ref == "job.id":
			return strconv.FormatInt(run.JobID, 10)
		case ref == "job.run_id":
			return strconv.FormatInt(run.RunID, 10)
		case ref == "task.name":
			return taskKey
		}
		return m
	})
}

// trainingArgs reads the training arguments of a task run.
func trainingArgs(run *runRec, t *taskRec) trainArgs {
	args := taskArgs(run, t)
	ta := trainArgs{
		ModelName: args["model_name"], Experiment: args["experiment"],
		GitSHA: args["git_sha"], Release: args["release"],
		Threshold: 0.5, MinAccuracy: 0.9,
	}
	if f, err := strconv.ParseFloat(args["threshold"], 64); err == nil {
		ta.Threshold = f
	}
	if f, err := strconv.ParseFloat(args["min_accuracy"], 64); err == nil {
		ta.MinAccuracy = f
	}
	ta.DryRun, _ = strconv.ParseBool(args["dry_run"])
	return ta
}

// taskArgs reads a task run's arguments (task parameters, run-now
// overrides and job parameters, references resolved) by name, with
// dashes as underscores: --model-name is "model_name".
func taskArgs(run *runRec, t *taskRec) map[string]string {
	named := map[string]string{}
	for k, v := range run.Params {
		named[k] = v
	}
	var list []string
	if task := findTask(run.Settings, t.TaskKey); task != nil {
		ov := run.Overrides
		if ov == nil {
			ov = &jobs.RunNow{}
		}
		switch {
		case task.SparkPythonTask != nil:
			list = task.SparkPythonTask.Parameters
			if len(ov.PythonParams) > 0 {
				list = ov.PythonParams
			}
		case task.PythonWheelTask != nil:
			list = task.PythonWheelTask.Parameters
			if len(ov.PythonParams) > 0 {
				list = ov.PythonParams
			}
			for k, v := range task.PythonWheelTask.NamedParameters {
				named[k] = v
			}
			for k, v := range ov.PythonNamedParams {
				named[k] = v
			}
		case task.NotebookTask != nil:
			for k, v := range task.NotebookTask.BaseParameters {
				named[k] = v
			}
			for k, v := range ov.NotebookParams {
				named[k] = v
			}
		}
	}
	args := map[string]string{}
	for k, v := range named {
		args[normalizeArg(k)] = resolveRefs(v, run, t.TaskKey)
	}
	for i := 0; i < len(list); i++ {
		a := list[i]
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, val, hasVal := strings.Cut(a, "=")
		if !hasVal {
			if name == "--dry-run" || i+1 >= len(list) || strings.HasPrefix(list[i+1], "--") {
				val = "true"
			} else {
				i++
				val = list[i]
			}
		}
		args[normalizeArg(name)] = resolveRefs(val, run, t.TaskKey)
	}
	return args
}

func normalizeArg(k string) string {
	return strings.ReplaceAll(strings.TrimLeft(k, "-"), "-", "_")
}

func (s *Store) trainer(run *runRec) *taskRec {
	for _, t := range run.Tasks {
		if t.Trains {
			return t
		}
	}
	return nil
}

// trainingMetrics are the evaluation results: perfect on the labelled
// examples unless the outcome scripts others.
func trainingMetrics(run *runRec) map[string]float64 {
	m := map[string]float64{"accuracy": 1, "tool_accuracy": 1, "risk_accuracy": 1}
	for k, v := range run.Outcome.Metrics {
		m[k] = v
	}
	return m
}

// startTraining opens the MLflow run when the training task starts running
// and will log (train.py evaluates before it opens a run). Call with s.mu held.
func (s *Store) startTraining(run *runRec) {
	t := s.trainer(run)
	if t == nil || run.Outcome.Result == jobs.RunResultStateFailed && run.Outcome.FailTask != "" && run.Outcome.FailTask != t.TaskKey {
		return
	}
	ta := trainingArgs(run, t)
	if ta.DryRun || trainingMetrics(run)["accuracy"] < ta.MinAccuracy {
		return
	}
	expName := ta.Experiment
	if expName == "" {
		expName = "/Users/" + s.user + "/" + run.Settings.Name
	}
	runName := "train"
	if ta.Release != "" {
		runName = "train-" + ta.Release
	}
	run.MLflowRunID = s.tracking.StartRun(expName, runName, run.StartAt, []ml.RunTag{
		{Key: "mlflow.source.type", Value: "JOB"},
		{Key: "mlflow.databricks.jobID", Value: strconv.FormatInt(run.JobID, 10)},
		{Key: "mlflow.databricks.jobRunID", Value: strconv.FormatInt(run.RunID, 10)},
		{Key: "mlflow.databricks.taskRunID", Value: strconv.FormatInt(t.RunID, 10)},
	})
}

// completeTraining logs what a successful training run logs and returns its
// report; an error fails the run. Call with s.mu held.
func (s *Store) completeTraining(run *runRec) (map[string]any, error) {
	t := s.trainer(run)
	if t == nil {
		return nil, nil
	}
	ta := trainingArgs(run, t)
	metrics := trainingMetrics(run)
	report := map[string]any{
		"examples": 11, "high_risk_tools": []string{"delete_records", "issue_refund", "send_email"},
		"model_name": ta.ModelName, "release": ta.Release, "git_sha": ta.GitSHA,
	}
	for k, v := range metrics {
		report[k] = v
	}
	if metrics["accuracy"] < ta.MinAccuracy {
		return nil, fmt.Errorf("error: accuracy %.3f is below --min-accuracy %v; nothing was logged", metrics["accuracy"], ta.MinAccuracy)
	}
	if ta.DryRun || run.MLflowRunID == "" {
		report["logged"] = false
		return report, nil
	}
	mr, ok := s.tracking.Run(run.MLflowRunID)
	if !ok {
		return nil, fmt.Errorf("the MLflow run %s of this training run was deleted", run.MLflowRunID)
	}
	var tags []ml.RunTag
	for k, v := range map[string]string{"git_sha": ta.GitSHA, "release": ta.Release} {
		if v != "" {
			tags = append(tags, ml.RunTag{Key: k, Value: v})
		}
	}
	history, _ := json.Marshal([]map[string]any{{
		"run_id": run.MLflowRunID, "artifact_path": ModelArtifactPath,
		"flavors": map[string]any{"python_function": map[string]any{"loader_module": "mlflow.pyfunc.model"}},
	}})
	tags = append(tags, ml.RunTag{Key: "mlflow.log-model.history", Value: string(history)})
	batch := ml.LogBatch{RunId: run.MLflowRunID, Tags: tags, Params: []ml.Param{
		{Key: "threshold", Value: strconv.FormatFloat(ta.Threshold, 'f', -1, 64)},
		{Key: "high_risk_tools", Value: "delete_records,issue_refund,send_email"},
		{Key: "rules", Value: "3"},
		{Key: "examples", Value: "11"},
	}}
	keys := make([]string, 0, len(metrics))
	for k := range metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		batch.Metrics = append(batch.Metrics, ml.Metric{Key: k, Value: metrics[k], Timestamp: run.EndAt.UnixMilli(), Step: 0, ForceSendFields: []string{"Value"}})
	}
	if err := s.tracking.LogBatch(batch); err != nil {
		return nil, fmt.Errorf("logging the training run: %w", err)
	}
	if err := s.tracking.LogModel(run.MLflowRunID, ModelArtifactPath); err != nil {
		return nil, fmt.Errorf("logging the model: %w", err)
	}
	source := mr.Info.ArtifactUri + "/" + ModelArtifactPath
	report["run_id"] = run.MLflowRunID
	report["model_version"] = nil
	if ta.ModelName != "" {
		name, version, err := s.models.RegisterModel(s.user, core.LoggedModel{
			Model: ta.ModelName, Source: source, RunID: run.MLflowRunID,
			WorkspaceID: s.workspaceID, At: run.EndAt,
		})
		if err != nil {
			return nil, err
		}
		report["model_name"], report["model_version"] = name, version
	}
	report["logged"] = true
	s.endTraining(run, ml.RunInfoStatusFinished)
	return report, nil
}

// endTraining closes the training run's MLflow run unless it is closed.
func (s *Store) endTraining(run *runRec, status ml.RunInfoStatus) {
	end := run.EndAt
	if !run.CanceledAt.IsZero() {
		end = run.CanceledAt
	}
	s.tracking.EndRun(run.MLflowRunID, status, end)
}

// pythonJSON renders a flat report like Python's json.dumps(sort_keys=True).
func pythonJSON(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, jsonString(k)+": "+pythonValue(m[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func pythonValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case float64:
		s := strconv.FormatFloat(x, 'f', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	case string:
		return jsonString(x)
	case []string:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = jsonString(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		raw, _ := json.Marshal(x)
		return string(raw)
	}
}

func jsonString(s string) string {
	raw, _ := json.Marshal(s)
	return string(raw)
}
