package bundle

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
)

var minimal = filepath.Join("testdata", "good", "minimal")

func loadOK(t *testing.T, root string, opts LoadOptions) *Bundle {
	t.Helper()
	b, diags := Load(root, opts)
	require.False(t, diags.HasError(), "diagnostics:\n%s", diags)
	require.NotNil(t, b)
	return b
}

func TestDevelopmentMode(t *testing.T) {
	b := loadOK(t, minimal, LoadOptions{CurrentUser: "Alice.Smith@example.com"})
	assert.Equal(t, "dev", b.Target, "default: true picks dev")
	assert.Equal(t, ModeDevelopment, b.Mode)
	assert.Equal(t, "alice_smith", b.Workspace.ShortName)
	assert.Equal(t, "/Workspace/Users/Alice.Smith@example.com/.bundle/minimal/dev", b.Workspace.RootPath)
	assert.Equal(t, b.Workspace.RootPath+"/files", b.Workspace.FilePath)
	assert.False(t, b.Deployment.Lock, "development mode deploys without the lock")

	job := b.Jobs["train"].Settings
	assert.Equal(t, "[dev alice_smith] train-dev", job.Name)
	assert.Equal(t, 2, job.MaxConcurrentRuns, "an explicit value wins over the preset")
	assert.Equal(t, jobs.PauseStatusPaused, job.Schedule.PauseStatus)
	assert.Equal(t, map[string]string{"label": "agent_model-dev", "dev": "alice_smith"}, job.Tags)
	assert.Equal(t, b.Workspace.FilePath+"/notebooks/train", job.Tasks[0].NotebookTask.NotebookPath,
		"a notebook path is relative to its YAML file and loses its extension")

	assert.Equal(t, "[dev alice_smith] agent_model", b.Models["model"].Request.Name)
	assert.Equal(t, "/Shared/[dev alice_smith] exp-dev", b.Experiments["exp"].Experiment.Name)

	ep := b.ServingEndpoints["endpoint"].Request
	assert.Equal(t, "dev_alice_smith_agent_model-endpoint", ep.Name, "endpoints get the normalized prefix")
	se := ep.Config.ServedEntities[0]
	assert.Equal(t, "[dev alice_smith] agent_model", se.EntityName, "${resources.models.model.name} sees the prefixed name")
	assert.False(t, se.ScaleToZeroEnabled)
	assert.Contains(t, se.ForceSendFields, "ScaleToZeroEnabled", "an explicit false must reach the API")

	assert.Equal(t, "agent_model-dev", b.Var("label"), "nested references resolve")
	n, err := b.IntVar("replicas")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
}

func TestProductionMode(t *testing.T) {
	called := false
	b := loadOK(t, minimal, LoadOptions{Target: "prod", LookupUser: func() (User, error) {
		called = true
		return User{UserName: "x@example.com"}, nil
	}})
	assert.False(t, called, "prod needs no user: the workspace is not asked")
	assert.Equal(t, ModeProduction, b.Mode)
	assert.Equal(t, "/Workspace/Shared/.bundle/minimal", b.Workspace.RootPath, "/Shared is under /Workspace")
	assert.True(t, b.Deployment.Lock)

	job := b.Jobs["train"].Settings
	assert.Equal(t, "train-prod", job.Name, "no prefix outside development")
	assert.Equal(t, 5, job.MaxConcurrentRuns, "the target's variable, typed as an int")
	assert.Empty(t, job.Schedule.PauseStatus)
	require.Len(t, job.Tasks, 2, "tasks merge by task_key")
	assert.Equal(t, "main", job.Tasks[0].TaskKey)
	assert.Equal(t, 3, job.Tasks[0].MaxRetries, "the target's setting")
	assert.Equal(t, "0123-456789-abcdefgh", job.Tasks[0].ExistingClusterId, "the top-level setting stays")
	assert.NotNil(t, job.Tasks[0].NotebookTask)
	assert.Equal(t, "extra", job.Tasks[1].TaskKey)
	assert.Equal(t, "agent_model-endpoint", b.ServingEndpoints["endpoint"].Request.Name)

	assert.Equal(t, "variables.replicas", "variables."+b.Variables["replicas"].Name)
	assert.Equal(t, "target prod", b.Variables["replicas"].Source)
	assert.Equal(t, "databricks.yml:27:17", b.Variables["replicas"].Location.String())
}

func TestVariablePrecedence(t *testing.T) {
	env := map[string]string{"BUNDLE_VAR_model_name": "from_env", "BUNDLE_VAR_replicas": "7"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name       string
		opts       LoadOptions
		model      string
		source     string
		replicas   int
		replicaSrc string
	}{
		{"defaults", LoadOptions{Target: "prod"}, "agent_model", "default", 5, "target prod"},
		{"environment over target and default", LoadOptions{Target: "prod", LookupEnv: lookup}, "from_env", "BUNDLE_VAR_model_name", 7, "BUNDLE_VAR_replicas"},
		{"--var over environment", LoadOptions{Target: "prod", LookupEnv: lookup, Vars: map[string]string{"model_name": "from_flag"}}, "from_flag", "--var", 7, "BUNDLE_VAR_replicas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := loadOK(t, minimal, tt.opts)
			assert.Equal(t, tt.model, b.Var("model_name"))
			assert.Equal(t, tt.source, b.Variables["model_name"].Source)
			assert.Equal(t, tt.model, b.Models["model"].Request.Name)
			n, err := b.IntVar("replicas")
			require.NoError(t, err)
			assert.Equal(t, tt.replicas, n)
			assert.Equal(t, tt.replicas, b.Jobs["train"].Settings.MaxConcurrentRuns, "a string from the environment decodes into an int field")
			assert.Equal(t, tt.replicaSrc, b.Variables["replicas"].Source)
		})
	}
}

func TestTypedVariableHelpers(t *testing.T) {
	b := loadOK(t, minimal, LoadOptions{Target: "prod", Vars: map[string]string{"label": "1.5"}})
	f, err := b.FloatVar("label")
	require.NoError(t, err)
	assert.Equal(t, 1.5, f)
	_, err = b.IntVar("label")
	assert.EqualError(t, err, `variable label: "1.5" is not an integer`)
	_, err = b.BoolVar("label")
	assert.Error(t, err)
	_, err = b.DurationVar("nope")
	assert.EqualError(t, err, "variable nope is not defined in the bundle")
	d, err := b.DurationVar("replicas")
	require.NoError(t, err)
	assert.Equal(t, 5*time.Second, d, "a plain number is seconds")
	assert.Equal(t, "", b.Var("nope"))
}

func TestRepositoryBundleIsClean(t *testing.T) {
	results := ValidateAll(filepath.Join("..", ".."), LoadOptions{CurrentUser: "alice@example.com"})
	require.Len(t, results, 3)
	for i, target := range []string{"dev", "staging", "prod"} {
		r := results[i]
		assert.Equal(t, target, r.Target)
		assert.Empty(t, r.Diagnostics, "target %s:\n%s", target, r.Diagnostics)
		require.NotNil(t, r.Bundle)
	}
}

func TestRepositoryBundlePolicies(t *testing.T) {
	root := filepath.Join("..", "..")
	prod := loadOK(t, root, LoadOptions{Target: "prod"})
	assert.Equal(t, &RolloutPolicy{
		CanaryPercent: 10, AnalysisInterval: time.Minute, Alpha: 0.01, MaxErrorRatio: 1.5, MaxDuration: 20 * time.Minute, MinRequests: 500,
	}, prod.Rollout)
	assert.Equal(t, &LoadPolicy{Concurrency: 8, Duration: time.Minute, MaxP95: 500 * time.Millisecond, MaxErrorRate: 0.01, MinRPS: 20}, prod.LoadTest)
	assert.Equal(t, 20*time.Minute, prod.Rollout.AnalysisWindow())

	dev := loadOK(t, root, LoadOptions{Target: "dev", CurrentUser: "alice@example.com"})
	assert.Equal(t, 5*time.Minute, dev.Rollout.MaxDuration)
	assert.Equal(t, "interrupt_agent", dev.Var("model_name"))
	assert.Equal(t, "dev", dev.Var("catalog"), "a catalog per environment")
	assert.Equal(t, "dev_alice_langgraph-human-interrupt-dev", dev.ServingEndpoints["human_interrupt_endpoint"].Request.Name)

	for target, want := range map[string]string{"dev": "https://adb-1111111111111111.11.azuredatabricks.net", "staging": "https://adb-2222222222222222.12.azuredatabricks.net", "prod": "https://adb-3333333333333333.13.azuredatabricks.net"} {
		b := loadOK(t, root, LoadOptions{Target: target, CurrentUser: "alice@example.com"})
		assert.Equal(t, want, b.Workspace.Host)
		assert.NoError(t, b.CheckHost(want+"/"))
		assert.Error(t, b.CheckHost("https://adb-9.9.azuredatabricks.net"))
		ep, err := b.ServingEndpoint("human_interrupt_endpoint")
		require.NoError(t, err)
		assert.Equal(t, "interrupt_agent-1", ep.Request.Config.TrafficConfig.Routes[0].ServedEntityName)
		_, err = b.Job("train_model")
		assert.NoError(t, err)
		m, err := b.RegistryModel()
		require.NoError(t, err)
		assert.Equal(t, RegistryUnityCatalog, m.Registry)
		assert.Equal(t, target, m.Catalog)
	}
}

func TestPolicyValidate(t *testing.T) {
	good := RolloutPolicy{CanaryPercent: 10, AnalysisInterval: time.Minute, Alpha: 0.01, MaxErrorRatio: 1.5, MaxDuration: 20 * time.Minute, MinRequests: 500}
	assert.Empty(t, good.Validate())
	tests := []struct {
		name   string
		change func(*RolloutPolicy)
		want   string
	}{
		{"zero percent", func(p *RolloutPolicy) { p.CanaryPercent = 0 }, VarCanaryPercent},
		{"all traffic", func(p *RolloutPolicy) { p.CanaryPercent = 100 }, VarCanaryPercent},
		{"half a minute", func(p *RolloutPolicy) { p.AnalysisInterval = 30 * time.Second }, VarAnalysisInterval},
		{"ninety seconds", func(p *RolloutPolicy) { p.AnalysisInterval = 90 * time.Second }, VarAnalysisInterval},
		{"alpha zero", func(p *RolloutPolicy) { p.Alpha = 0 }, VarCanaryAlpha},
		{"alpha too high", func(p *RolloutPolicy) { p.Alpha = 0.5 }, VarCanaryAlpha},
		{"ratio of 1", func(p *RolloutPolicy) { p.MaxErrorRatio = 1 }, VarMaxErrorRatio},
		{"duration below the interval", func(p *RolloutPolicy) { p.AnalysisInterval, p.MaxDuration = 5*time.Minute, 2*time.Minute }, VarCanaryMaxTime},
		{"duration in seconds", func(p *RolloutPolicy) { p.MaxDuration = 90 * time.Second }, VarCanaryMaxTime},
		{"no requests", func(p *RolloutPolicy) { p.MinRequests = 0 }, VarMinRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			tt.change(&p)
			problems := p.Validate()
			require.Len(t, problems, 1)
			assert.Equal(t, tt.want, problems[0].Variable)
		})
	}
	load := LoadPolicy{Concurrency: 0, Duration: time.Hour, MaxP95: 0, MaxErrorRate: 2, MinRPS: -1}
	assert.Len(t, load.Validate(), 5)
}

// -strict makes warnings errors and leaves recommendations alone, as the
// CLI's bundle validate --strict does (cmd/bundle/validate.go; printed in
// acceptance/bundle/validate/strict).
func TestStrictTurnsWarningsIntoErrors(t *testing.T) {
	root := filepath.Join("testdata", "bad", "unknown_job_field")
	results := Check(root, CheckOptions{Target: "default"})
	require.Len(t, results, 1)
	assert.False(t, HasError(results))
	assert.Equal(t, "dev", results[0].Target, "default resolves to the only target")
	assert.NoError(t, Err(results))

	strict := Check(root, CheckOptions{Target: "default", Strict: true})
	assert.True(t, HasError(strict))
	assert.EqualError(t, Err(strict), `bundle validation failed for dev: resources/job.yml:5:7: unknown field "taks" (did you mean "tasks"?)`)

	onlyRecommendation := Check(filepath.Join("testdata", "bad", "include_glob_empty"), CheckOptions{Target: "default", Strict: true})
	assert.NoError(t, Err(onlyRecommendation), "a recommendation does not fail a strict run")
}

func TestCheckAll(t *testing.T) {
	results := Check(filepath.Join("testdata", "bad", "variable_without_value"), CheckOptions{Target: AllTargets})
	require.Len(t, results, 2)
	assert.False(t, results[0].Diagnostics.HasError(), "dev sets the variable")
	assert.True(t, results[1].Diagnostics.HasError(), "prod does not: CI catches it even though dev is fine")
	assert.ErrorContains(t, Err(results), "bundle validation failed for prod: databricks.yml:4:3: no value assigned")

	broken := Check(filepath.Join("testdata", "bad", "malformed_yaml"), CheckOptions{Target: AllTargets})
	require.Len(t, broken, 1)
	assert.Equal(t, "", broken[0].Target)
	assert.True(t, HasError(broken))
}

func TestLoadFromFS(t *testing.T) {
	fsys := fstest.MapFS{
		"databricks.yml": {Data: []byte("bundle:\n  name: in-memory\nworkspace:\n  host: https://h.example.com\n  root_path: /Workspace/x\n")},
	}
	b := loadOK(t, "mem", LoadOptions{FS: fsys})
	assert.Equal(t, "default", b.Target, "a bundle without targets has an implicit default target")
	assert.Equal(t, []string{"default"}, b.Targets)
	_, diags := Load("mem", LoadOptions{FS: fsys, Target: "prod"})
	require.Len(t, diags, 1)
	assert.Equal(t, `target "prod" is not defined`, diags[0].Summary)
}

func TestValueAndLocation(t *testing.T) {
	b := loadOK(t, minimal, LoadOptions{Target: "prod"})
	v, ok := b.Value("resources.jobs.train.tasks[0].existing_cluster_id")
	require.True(t, ok)
	assert.Equal(t, "0123-456789-abcdefgh", v)
	assert.Equal(t, "resources/resources.yml:13:32", b.Location("resources.jobs.train.tasks[0].existing_cluster_id").String())
	assert.Equal(t, "databricks.yml:33:28", b.Location("resources.jobs.train.tasks[0].max_retries").String(), "a target override points at the target")
	_, ok = b.Value("resources.jobs.nope")
	assert.False(t, ok)
	assert.Equal(t, diag.Location{}, b.Location("[bad"))
}

func TestServicePrincipalShortName(t *testing.T) {
	assert.Equal(t, "deploy_bot", ShortName(User{UserName: "9f0c8a4e-3b6d-4c1e-8a2f-5d7b6e4c3a21", DisplayName: "Deploy Bot"}))
	assert.Equal(t, "9f0c8a4e_3b6d_4c1e_8a2f_5d7b6e4c3a21", ShortName(User{UserName: "9f0c8a4e-3b6d-4c1e-8a2f-5d7b6e4c3a21"}))
	assert.Equal(t, "jörg_k", ShortName(User{UserName: "Jörg.K@example.com"}))
}

func TestNormalizePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"[dev alice] ": "dev_alice_",
		"[prefix]":     "prefix_",
		"prefix-":      "prefix_",
		"":             "",
	} {
		assert.Equal(t, want, NormalizePrefix(in), in)
	}
}

func TestParseVars(t *testing.T) {
	got, err := ParseVarList("a=1, b = x=y")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "1", "b": " x=y"}, got)
	_, err = ParseVarList("novalue")
	assert.EqualError(t, err, `invalid --var "novalue": want name=value`)
	got, err = ParseVarList(" ")
	require.NoError(t, err)
	assert.Nil(t, got)
}

func TestRunAsServingEndpointConflict(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(minimal, "resources", "resources.yml"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "resources"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "resources", "resources.yml"), src, 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "notebooks"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notebooks", "train.py"), nil, 0o644))
	root := "bundle:\n  name: run-as\ninclude: [resources/*.yml]\nvariables:\n  model_name: {default: m}\n  replicas: {default: 1}\n  label: {default: l}\n" +
		"run_as:\n  service_principal_name: 9f0c8a4e-3b6d-4c1e-8a2f-5d7b6e4c3a21\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "databricks.yml"), []byte(root), 0o644))

	b, diags := Load(dir, LoadOptions{})
	require.False(t, diags.HasError(), "offline, the deploying user is unknown:\n%s", diags)
	assert.Equal(t, "9f0c8a4e-3b6d-4c1e-8a2f-5d7b6e4c3a21", b.Jobs["train"].Settings.RunAs.ServicePrincipalName, "jobs inherit run_as")

	_, diags = Load(dir, LoadOptions{CurrentUser: "alice@example.com"})
	diags = diags.Filter(diag.Error)
	require.Len(t, diags, 1)
	assert.Equal(t, "model_serving_endpoints do not support a setting a run_as user that is different from the owner", diags[0].Summary)
	assert.Equal(t, "databricks.yml:9:3", diags[0].Locations[0].String())
}

func TestReferences(t *testing.T) {
	root := `bundle:
  name: refs
workspace:
  host: https://h.example.com
  root_path: /Workspace/Shared/refs
resources:
  jobs:
    a:
      name: a-${bundle.name}-${bundle.target}
      tags:
        owner: ${workspace.current_user.userName}
        short: ${workspace.current_user.short_name}
        files: ${workspace.file_path}
      tasks:
        - task_key: run_b
          run_job_task:
            job_id: ${resources.jobs.b.id}
    b:
      name: b
      description: runs after ${resources.jobs.a.name}
      tasks:
        - task_key: t
          existing_cluster_id: c
          notebook_task: {notebook_path: /Shared/n}
`
	calls := 0
	b := loadOK(t, "mem", LoadOptions{FS: fstest.MapFS{"databricks.yml": {Data: []byte(root)}}, LookupUser: func() (User, error) {
		calls++
		return User{UserName: "carol.d@example.com"}, nil
	}})
	assert.Equal(t, 1, calls, "the user is looked up once, because a value refers to it")
	a := b.Jobs["a"].Settings
	assert.Equal(t, "a-refs-default", a.Name)
	assert.Equal(t, map[string]string{"owner": "carol.d@example.com", "short": "carol_d", "files": "/Workspace/Shared/refs/files"}, a.Tags)
	assert.Equal(t, int64(0), a.Tasks[0].RunJobTask.JobId, "a job id is only known after deploy")
	v, _ := b.Value("resources.jobs.a.tasks[0].run_job_task.job_id")
	assert.Equal(t, "${resources.jobs.b.id}", v, "the reference stays for the deploy engine")
	assert.Equal(t, "runs after a-refs-default", b.Jobs["b"].Settings.Description)

	bad := `bundle: {name: refs}
resources:
  jobs:
    a:
      name: ${resources.jobs.nope.name}
      description: ${resources.jobs.a.nmae}
`
	_, diags := Load("mem", LoadOptions{FS: fstest.MapFS{"databricks.yml": {Data: []byte(bad)}}})
	errs := diags.Filter(diag.Error)
	require.Len(t, errs, 2, "%s", diags)
	assert.Equal(t, "reference ${resources.jobs.nope.name} names a resource the bundle does not define", errs[0].Summary)
	assert.Equal(t, "databricks.yml:5:13", errs[0].Locations[0].String())
	assert.Equal(t, "reference ${resources.jobs.a.nmae} does not exist", errs[1].Summary)
}

func TestDevelopmentClusterOverride(t *testing.T) {
	root := `bundle: {name: c}
resources:
  jobs:
    a:
      name: a
      job_clusters:
        - job_cluster_key: big
          new_cluster: {spark_version: 15.4.x-scala2.12, num_workers: 8}
      tasks:
        - task_key: t
          job_cluster_key: big
          notebook_task: {notebook_path: /Shared/n}
targets:
  dev:
    mode: development
    cluster_id: 0101-000000-devbox
    workspace: {host: https://h.example.com}
`
	b := loadOK(t, "mem", LoadOptions{FS: fstest.MapFS{"databricks.yml": {Data: []byte(root)}}, CurrentUser: "dan@example.com"})
	task := b.Jobs["a"].Settings.Tasks[0]
	assert.Equal(t, "0101-000000-devbox", task.ExistingClusterId, "development runs tasks on the given cluster")
	assert.Empty(t, task.JobClusterKey)
}

// TestResourceChecks covers the checks made after decoding, one resource
// snippet each, with the summary and line of the first diagnostic.
func TestResourceChecks(t *testing.T) {
	const head = "bundle: {name: r}\nworkspace: {host: https://h.example.com, root_path: /Workspace/r}\nresources:\n"
	tests := []struct {
		name, resources string
		severity        diag.Severity
		summary, at     string
	}{
		{"job without tasks", "  jobs:\n    a: {name: a}\n", diag.Recommendation, `job "a" has no tasks`, "databricks.yml:5:8"},
		{"duplicate task key", "  jobs:\n    a:\n      tasks:\n        - {task_key: t, existing_cluster_id: c, notebook_task: {notebook_path: /n}}\n        - {task_key: t, existing_cluster_id: c, notebook_task: {notebook_path: /n}}\n", diag.Error, `job "a" defines task "t" twice`, "databricks.yml:8:22"},
		{"duplicate job cluster", "  jobs:\n    a:\n      job_clusters:\n        - {job_cluster_key: c, new_cluster: {num_workers: 1}}\n        - {job_cluster_key: c, new_cluster: {num_workers: 1}}\n      tasks: [{task_key: t, job_cluster_key: c, notebook_task: {notebook_path: /n}}]\n", diag.Error, `job "a" defines job cluster "c" twice`, "databricks.yml:8:29"},
		{"duplicate parameter", "  jobs:\n    a:\n      parameters: [{name: p, default: x}, {name: p, default: y}]\n      tasks: [{task_key: t, existing_cluster_id: c, notebook_task: {notebook_path: /n}}]\n", diag.Error, `job "a" defines parameter "p" twice`, "databricks.yml:6:50"},
		{"permission without principal", "  models:\n    m:\n      name: m\n      permissions: [{level: CAN_READ}]\n", diag.Error, "a permission must name exactly one of user_name, group_name and service_principal_name", "databricks.yml:7:21"},
		{"permission without level", "  models:\n    m:\n      name: m\n      permissions: [{group_name: g}]\n", diag.Warning, `missing required field "level"`, "databricks.yml:7:21"},
		{"model without name", "  models:\n    m: {description: d}\n", diag.Warning, `missing required field "name"`, "databricks.yml:5:8"},
		{"model with empty name", "  models:\n    m: {name: \"\"}\n", diag.Error, `model "m" has no name`, "databricks.yml:5:15"},
		{"relative experiment", "  experiments:\n    e: {name: my-exp}\n", diag.Error, `experiment name "my-exp" must be an absolute workspace path such as /Users/<user>/<name>`, "databricks.yml:5:15"},
		{"registered model without schema", "  registered_models:\n    m: {name: m, catalog_name: main}\n", diag.Error, `registered model "m" needs schema_name (Unity Catalog models live in a catalog and schema)`, "databricks.yml:5:8"},
		{"endpoint without entities", "  model_serving_endpoints:\n    e: {name: e}\n", diag.Error, `serving endpoint "e" serves nothing: config.served_entities is empty`, "databricks.yml:5:8"},
		{"served entity without entity", "  model_serving_endpoints:\n    e:\n      name: e\n      config: {served_entities: [{workload_size: Small}]}\n", diag.Error, `served entity 0 of endpoint "e" needs entity_name (or external_model)`, "databricks.yml:7:34"},
		{"two entities, same name", "  model_serving_endpoints:\n    e:\n      name: e\n      config:\n        served_entities:\n          - {entity_name: m, entity_version: \"1\", workload_size: Small}\n          - {entity_name: m, entity_version: \"1\", workload_size: Small}\n", diag.Error, `endpoint "e" serves two entities named "m-1"; give each a distinct name`, "databricks.yml:10:13"},
		{"two entities, no traffic", "  model_serving_endpoints:\n    e:\n      name: e\n      config:\n        served_entities:\n          - {entity_name: m, entity_version: \"1\", workload_size: Small}\n          - {entity_name: m, entity_version: \"2\", workload_size: Small}\n", diag.Recommendation, `serving endpoint "e" serves 2 entities but has no traffic_config`, "databricks.yml:8:9"},
		{"size and concurrency", "  model_serving_endpoints:\n    e:\n      name: e\n      config: {served_entities: [{entity_name: m, entity_version: \"1\", workload_size: Small, min_provisioned_concurrency: 4}]}\n", diag.Error, `served entity of endpoint "e" sets both workload_size and provisioned concurrency; use one`, "databricks.yml:7:87"},
		{"negative traffic", "  model_serving_endpoints:\n    e:\n      name: e\n      config:\n        served_entities: [{name: a, entity_name: m, entity_version: \"1\", workload_size: Small}]\n        traffic_config: {routes: [{served_entity_name: a, traffic_percentage: -10}, {served_entity_name: a, traffic_percentage: 110}]}\n", diag.Error, "traffic_percentage -10 is outside 0..100", "databricks.yml:9:79"},
		{"route without target", "  model_serving_endpoints:\n    e:\n      name: e\n      config:\n        served_entities: [{name: a, entity_name: m, entity_version: \"1\", workload_size: Small}]\n        traffic_config: {routes: [{traffic_percentage: 100}]}\n", diag.Error, `traffic route 0 of endpoint "e" names no served entity`, "databricks.yml:9:35"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"databricks.yml": {Data: []byte(head + tt.resources)}}
			_, diags := Load("mem", LoadOptions{FS: fsys})
			require.NotEmpty(t, diags)
			d := diags[0]
			assert.Equal(t, tt.severity, d.Severity)
			assert.Equal(t, tt.summary, d.Summary, "%s", diags)
			require.NotEmpty(t, d.Locations)
			assert.Equal(t, tt.at, d.Locations[0].String())
		})
	}
}

func TestTargetVariableOverrideForms(t *testing.T) {
	root := `bundle: {name: v}
workspace: {host: https://h.example.com, root_path: /Workspace/v}
variables:
  size:
    default: Small
  cluster:
    type: complex
    default: {num_workers: 1}
targets:
  dev:
    variables:
      size:
        default: Large
      cluster:
        num_workers: 4
        spark_version: x
`
	b := loadOK(t, "mem", LoadOptions{FS: fstest.MapFS{"databricks.yml": {Data: []byte(root)}}})
	assert.Equal(t, "Large", b.Var("size"), "the {default: ...} form")
	assert.Equal(t, map[string]any{"num_workers": int64(4), "spark_version": "x"}, b.Variables["cluster"].Value, "a complex value is replaced whole")
	assert.Equal(t, "target dev", b.Variables["cluster"].Source)

	_, diags := Load("mem", LoadOptions{FS: fstest.MapFS{"databricks.yml": {Data: []byte(root)}}, Vars: map[string]string{"cluster": "x"}})
	require.True(t, diags.HasError())
	assert.Equal(t, `variable "cluster" is complex; it cannot be set with --var`, diags[0].Summary)
}

// Production without the target's own root_path: the CLI refuses it when
// a user deploys and recommends it when a service principal deploys
// (resourcemutator/validate_target_mode.go, iamutil.IsServicePrincipal: a
// UUID-shaped name).
func TestProductionRootPath(t *testing.T) {
	root := filepath.Join("testdata", "bad", "prod_without_root_path")
	tests := []struct {
		user string
		want diag.Severity
	}{
		{"alice@example.com", diag.Error},
		{"9f0c8a4e-3b6d-4c1e-8a2f-5d7b6e4c3a21", diag.Recommendation},
		{OfflineUser, diag.Warning},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			_, diags := Load(root, LoadOptions{CurrentUser: tt.user})
			require.Len(t, diags, 1, "%s", diags)
			assert.Equal(t, tt.want, diags[0].Severity, diags[0].Summary)
			assert.Contains(t, diags[0].Summary, "'workspace.root_path'")
		})
	}
}
