package emulator

import (
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ucWorkspaces are dev, staging and prod seeded with a catalog each
// (schema s), dev's model dev.s.m and staging's staging.s.m created.
func ucWorkspaces(t *testing.T) (*Workspaces, map[string]*databricks.WorkspaceClient) {
	t.Helper()
	ws, err := StartWorkspaces([]string{"dev", "staging", "prod"}, Options{CatalogSchema: "s"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ws.Close()) })
	clients := map[string]*databricks.WorkspaceClient{}
	for _, env := range ws.Names() {
		w, err := ws.Get(env).WorkspaceClient()
		require.NoError(t, err)
		clients[env] = w
	}
	for _, env := range []string{"dev", "staging"} {
		_, err := clients[env].RegisteredModels.Create(ctx(t), catalog.CreateRegisteredModelRequest{CatalogName: env, SchemaName: "s", Name: "m"})
		require.NoError(t, err)
	}
	return ws, clients
}

// runJob creates a job and runs it to its end; it returns the task's output.
func runJob(t *testing.T, w *databricks.WorkspaceClient, job jobs.CreateJob, params map[string]string) (jobs.Run, *jobs.RunOutput) {
	t.Helper()
	created, err := w.Jobs.Create(ctx(t), job)
	require.NoError(t, err)
	wait, err := w.Jobs.RunNow(ctx(t), jobs.RunNow{JobId: created.JobId, JobParameters: params})
	require.NoError(t, err)
	run, err := wait.Get()
	if err != nil {
		// A failed run ends the wait with an error; the run itself says why.
		run, err = w.Jobs.GetRun(ctx(t), jobs.GetRunRequest{RunId: wait.RunId})
		require.NoError(t, err)
	}
	out, err := w.Jobs.GetRunOutput(ctx(t), jobs.GetRunOutputRequest{RunId: run.Tasks[0].RunId})
	require.NoError(t, err)
	return *run, out
}

func promoteJob() jobs.CreateJob {
	return jobs.CreateJob{
		Name: "promote",
		Parameters: []jobs.JobParameterDefinition{
			{Name: "source_model"}, {Name: "source_version"}, {Name: "release_alias"}, {Name: "release_tag"},
		},
		Tasks: []jobs.Task{{TaskKey: "copy_version", SparkPythonTask: &jobs.SparkPythonTask{
			PythonFile: "/Workspace/.bundle/files/src/promote_job.py",
			Parameters: []string{"--source-model", "{{job.parameters.source_model}}", "--source-version", "{{job.parameters.source_version}}",
				"--target-model", "staging.s.m", "--release-alias", "{{job.parameters.release_alias}}", "--release", "{{job.parameters.release_tag}}"},
		}}},
	}
}

func TestWorkspacesHaveOwnPrincipalsAndSeededCatalogs(t *testing.T) {
	ws, clients := ucWorkspaces(t)
	assert.Equal(t, "emulator+dev@localhost", ws.Get("dev").UserName())
	assert.Equal(t, "emulator+prod@localhost", ws.Get("prod").UserName())
	c, err := clients["staging"].Catalogs.GetByName(ctx(t), "dev")
	require.NoError(t, err, "staging reads dev's catalog")
	assert.Equal(t, "emulator+dev@localhost", c.Owner)
	_, err = clients["prod"].Catalogs.GetByName(ctx(t), "dev")
	assert.ErrorContains(t, err, "User does not have USE CATALOG on Catalog 'dev'.", "prod reads staging's catalog only")
	_, err = clients["prod"].Schemas.GetByFullName(ctx(t), "staging.s")
	require.NoError(t, err)
}

func TestTrainingRegistersInUnityCatalog(t *testing.T) {
	cases := []struct {
		name, model, wantErr string
		status               catalog.ModelVersionInfoStatus
		script               func(ws *Workspaces)
	}{
		{name: "ready", model: "dev.s.m", status: catalog.ModelVersionInfoStatusReady},
		{name: "failed registration", model: "dev.s.m", status: catalog.ModelVersionInfoStatusFailedRegistration,
			script: func(ws *Workspaces) { ws.Metastore().FailNextRegistration("dev.s.m", "bad files") }},
		{name: "upload dies", model: "dev.s.m", status: catalog.ModelVersionInfoStatusPendingRegistration,
			script:  func(ws *Workspaces) { ws.Metastore().InterruptNextRegistration("dev.s.m", unitycatalog.StepUpload) },
			wantErr: "registering the model as dev.s.m: the task died after the upload step of registering dev.s.m v1; the version stays PENDING_REGISTRATION"},
		{name: "missing model", model: "dev.s.nope", wantErr: "RESOURCE_DOES_NOT_EXIST: Routine or Model 'dev.s.nope' does not exist."},
		{name: "another workspace's model", model: "staging.s.m", wantErr: "PERMISSION_DENIED: User does not have USE CATALOG on Catalog 'staging'."},
		{name: "legacy registry disabled", model: "m", wantErr: "PERMISSION_DENIED: The legacy workspace model registry is disabled for the current Databricks workspace."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws, clients := ucWorkspaces(t)
			if tc.script != nil {
				tc.script(ws)
			}
			run, out := runJob(t, clients["dev"], trainJob("train", tc.model), nil)
			if tc.wantErr != "" {
				assert.Equal(t, jobs.RunResultStateFailed, run.State.ResultState)
				assert.Contains(t, out.Error, tc.wantErr)
				if tc.status != "" {
					v, err := clients["dev"].ModelVersions.Get(ctx(t), catalog.GetModelVersionRequest{FullName: "dev.s.m", Version: 1})
					require.NoError(t, err)
					assert.Equal(t, tc.status, v.Status, "nothing finalizes it")
				}
				return
			}
			require.Equal(t, jobs.RunResultStateSuccess, run.State.ResultState, out.Error)
			assert.Contains(t, out.Logs, `"model_name": "dev.s.m"`)
			assert.Contains(t, out.Logs, `"model_version": "1"`)
			v, err := clients["dev"].ModelVersions.Get(ctx(t), catalog.GetModelVersionRequest{FullName: "dev.s.m", Version: 1})
			require.NoError(t, err)
			assert.Equal(t, tc.status, v.Status)
			assert.NotEmpty(t, v.RunId)
			assert.Equal(t, int(ws.Get("dev").WorkspaceID()), v.RunWorkspaceId)
		})
	}
}

func TestPromotionJobCopiesOnce(t *testing.T) {
	ws, clients := ucWorkspaces(t)
	uc := ws.Metastore()
	_, err := uc.RegisterVersion(ws.Get("dev").UserName(), "dev.s.m", testVersion())
	require.NoError(t, err)
	params := map[string]string{"source_model": "dev.s.m", "source_version": "1", "release_alias": "release_v1_2_0", "release_tag": "v1.2.0"}
	run, out := runJob(t, clients["staging"], promoteJob(), params)
	require.Equal(t, jobs.RunResultStateSuccess, run.State.ResultState, out.Error)
	assert.Equal(t, `{"copied": true, "model_name": "staging.s.m", "model_version": "1", "release_alias": "release_v1_2_0", "source_model": "dev.s.m", "source_version": "1"}`+"\n", out.Logs)
	v, err := clients["staging"].ModelVersions.GetByAlias(ctx(t), catalog.GetByAliasRequest{FullName: "staging.s.m", Alias: "release_v1_2_0"})
	require.NoError(t, err)
	assert.Equal(t, "models:/dev.s.m/1", v.Source)
	assert.Equal(t, "release v1.2.0: copy of dev.s.m v1", v.Comment)
	assert.Equal(t, catalog.ModelVersionInfoStatusReady, v.Status)

	// A re-run finds the copy by its alias; a run whose alias was never set
	// finds it by its source.
	created, err := clients["staging"].Jobs.Create(ctx(t), promoteJob())
	require.NoError(t, err)
	rewait, err := clients["staging"].Jobs.RunNow(ctx(t), jobs.RunNow{JobId: created.JobId, JobParameters: params})
	require.NoError(t, err)
	rerun, err := rewait.Get()
	require.NoError(t, err)
	rout, err := clients["staging"].Jobs.GetRunOutput(ctx(t), jobs.GetRunOutputRequest{RunId: rerun.Tasks[0].RunId})
	require.NoError(t, err)
	assert.Contains(t, rout.Logs, `"copied": false`)
	require.NoError(t, clients["staging"].RegisteredModels.DeleteAlias(ctx(t), catalog.DeleteAliasRequest{FullName: "staging.s.m", Alias: "release_v1_2_0"}))
	_, out = runJob(t, clients["staging"], promoteJob(), params)
	assert.Contains(t, out.Logs, `"copied": false, "model_name": "staging.s.m", "model_version": "1"`)
	all, err := clients["staging"].ModelVersions.ListAll(ctx(t), catalog.ListModelVersionsRequest{FullName: "staging.s.m"})
	require.NoError(t, err)
	assert.Len(t, all, 1, "no second copy")
}

func TestPromotionJobFailures(t *testing.T) {
	cases := []struct {
		name, alias, wantErr string
		prepare              func(ws *Workspaces)
	}{
		{name: "no grant on the source", alias: "release_v1",
			prepare: func(ws *Workspaces) {
				require.NoError(t, ws.Metastore().Revoke(catalog.SecurableTypeCatalog, "dev", ws.Get("staging").UserName(), catalog.PrivilegeExecute))
			},
			wantErr: "PERMISSION_DENIED: User does not have EXECUTE on Routine or Model 'dev.s.m'."},
		{name: "alias with a dot", alias: "release.v1", wantErr: "INVALID_PARAMETER_VALUE: Invalid alias name 'release.v1'"},
		{name: "copy fails registration", alias: "release_v1",
			prepare: func(ws *Workspaces) { ws.Metastore().FailNextRegistration("staging.s.m", "bad files") },
			wantErr: "copy version 1 of staging.s.m is FAILED_REGISTRATION: bad files"},
		{name: "copy's upload dies", alias: "release_v1",
			prepare: func(ws *Workspaces) { ws.Metastore().InterruptNextRegistration("staging.s.m", unitycatalog.StepUpload) },
			wantErr: "the task died after the upload step of registering staging.s.m v1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws, clients := ucWorkspaces(t)
			_, err := ws.Metastore().RegisterVersion(ws.Get("dev").UserName(), "dev.s.m", testVersion())
			require.NoError(t, err)
			if tc.prepare != nil {
				tc.prepare(ws)
			}
			params := map[string]string{"source_model": "dev.s.m", "source_version": "1", "release_alias": tc.alias, "release_tag": "v1"}
			run, out := runJob(t, clients["staging"], promoteJob(), params)
			assert.Equal(t, jobs.RunResultStateFailed, run.State.ResultState)
			assert.Contains(t, out.Error, tc.wantErr)
			assert.Empty(t, ws.Metastore().Aliases("staging.s.m"), "no alias set")
		})
	}
}

func TestServingUnityCatalogModels(t *testing.T) {
	ws, clients := ucWorkspaces(t)
	uc, user := ws.Metastore(), ws.Get("dev").UserName()
	_, err := uc.RegisterVersion(user, "dev.s.m", testVersion())
	require.NoError(t, err)
	_, err = uc.CreateVersion(user, "dev.s.m", testVersion())
	require.NoError(t, err)
	w := clients["dev"]
	create := func(version string) error {
		_, err := w.ServingEndpoints.Create(ctx(t), serving.CreateServingEndpoint{
			Name: "ep-" + version, Config: &serving.EndpointCoreConfigInput{ServedEntities: []serving.ServedEntityInput{{
				EntityName: "dev.s.m", EntityVersion: version, WorkloadSize: "Small", ScaleToZeroEnabled: true,
			}}},
		})
		return err
	}
	require.NoError(t, create("1"))
	ep, ok := ws.Get("dev").Endpoint("ep-1")
	require.True(t, ok)
	assert.Equal(t, "dev.s.m", ep.Config.ServedEntities[0].EntityName)
	assert.ErrorContains(t, create("2"), "not ready to serve (status PENDING_REGISTRATION)")
	assert.ErrorContains(t, create("7"), "Model version 7 of Routine or Model 'dev.s.m' does not exist.")
	assert.True(t, strings.Contains(create("x").Error(), "versions are positive integers"))
}

// TestRegistrationRerunAfterEachStep: a training or promotion task that
// dies after each step of MLflow's registration (create, credentials,
// upload; MLflow's create_model_version has no cleanup around them, so the
// version stays PENDING_REGISTRATION) fails its run; the next run of the
// same job registers a new version that is READY at once. The promotion
// task deletes the unfinished copy it finds (src/human_interrupt_agent/
// promote.py does the same); training leaves it to the deploy, which knows
// the release (cd's discardUnfinished).
func TestRegistrationRerunAfterEachStep(t *testing.T) {
	for _, step := range []unitycatalog.Step{unitycatalog.StepCreate, unitycatalog.StepCredentials, unitycatalog.StepUpload} {
		t.Run("train/"+string(step), func(t *testing.T) {
			ws, clients := ucWorkspaces(t)
			ws.Metastore().InterruptNextRegistration("dev.s.m", step)
			run, out := runJob(t, clients["dev"], trainJob("train", "dev.s.m"), nil)
			require.Equal(t, jobs.RunResultStateFailed, run.State.ResultState)
			assert.Contains(t, out.Error, "died after the "+string(step)+" step")
			run, out = runJob(t, clients["dev"], trainJob("train", "dev.s.m"), nil)
			require.Equal(t, jobs.RunResultStateSuccess, run.State.ResultState, out.Error)
			assert.Contains(t, out.Logs, `"model_version": "2"`)
			v1, _, _ := ws.Metastore().ModelVersion("dev.s.m", 1)
			v2, _, _ := ws.Metastore().ModelVersion("dev.s.m", 2)
			assert.Equal(t, catalog.ModelVersionInfoStatusPendingRegistration, v1.Status)
			assert.Equal(t, catalog.ModelVersionInfoStatusReady, v2.Status)
		})
		t.Run("promote/"+string(step), func(t *testing.T) {
			ws, clients := ucWorkspaces(t)
			_, err := ws.Metastore().RegisterVersion(ws.Get("dev").UserName(), "dev.s.m", testVersion())
			require.NoError(t, err)
			ws.Metastore().InterruptNextRegistration("staging.s.m", step)
			params := map[string]string{"source_model": "dev.s.m", "source_version": "1", "release_alias": "release_v1", "release_tag": "v1"}
			run, out := runJob(t, clients["staging"], promoteJob(), params)
			require.Equal(t, jobs.RunResultStateFailed, run.State.ResultState)
			assert.Contains(t, out.Error, "died after the "+string(step)+" step")
			run, out = runJob(t, clients["staging"], promoteJob(), params)
			require.Equal(t, jobs.RunResultStateSuccess, run.State.ResultState, out.Error)
			assert.Contains(t, out.Logs, `"copied": true, "discarded": ["1"], "model_name": "staging.s.m", "model_version": "2"`)
			all, err := clients["staging"].ModelVersions.ListAll(ctx(t), catalog.ListModelVersionsRequest{FullName: "staging.s.m"})
			require.NoError(t, err)
			require.Len(t, all, 1, "exactly one copy, READY")
			assert.Equal(t, catalog.ModelVersionInfoStatusReady, all[0].Status)
			assert.Equal(t, map[string]int{"release_v1": 2}, ws.Metastore().Aliases("staging.s.m"))
		})
	}
}
