package bundle

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
)

// want is one expected diagnostic: its severity, a summary (exact unless
// it ends with "..."), and where it points (file:line, or file:line:col).
type want struct {
	severity diag.Severity
	summary  string
	at       string
}

func errAt(summary, at string) want  { return want{diag.Error, summary, at} }
func warnAt(summary, at string) want { return want{diag.Warning, summary, at} }

// TestBadInput loads each fixture under testdata/bad and checks that it
// yields exactly the expected diagnostics, in order, at the right lines.
func TestBadInput(t *testing.T) {
	tests := []struct {
		fixture string
		opts    LoadOptions
		want    []want
	}{
		// The list.
		{fixture: "malformed_yaml", want: []want{errAt("invalid YAML: found unexpected end of stream", "databricks.yml:6")}},
		{fixture: "not_a_mapping", want: []want{errAt("expected a mapping at the top of databricks.yml, found sequence", "databricks.yml:1:1")}},
		// The CLI accepts a glob that matches nothing silently and refuses a
		// literal path that matches nothing
		// (bundle/config/loader/process_root_includes.go); the glob is a
		// recommendation here, which -strict does not count.
		{fixture: "include_glob_empty", want: []want{{diag.Recommendation, `include pattern "resources/*.yml" matches no files`, "databricks.yml:4:5"}}},
		{fixture: "include_missing_file", want: []want{errAt("resources/missing.yml defined in 'include' section does not match any files", "databricks.yml:5:5")}},
		{fixture: "duplicate_resource_key", want: []want{errAt(`multiple resources are defined with the key "train"`, "resources/b.yml:4:5")}},
		{fixture: "unknown_target", opts: LoadOptions{Target: "qa"}, want: []want{errAt(`target "qa" is not defined`, "databricks.yml:3:1")}},
		{fixture: "two_default_targets", want: []want{errAt("multiple targets are marked as default: dev, staging", "databricks.yml:5:14")}},
		// With a target named, the CLI does not look at defaults
		// (mutator/select_target.go): accepted.
		{fixture: "two_default_targets", opts: LoadOptions{Target: "dev"}},
		// v1: ${var.v0}${var.v0} … v40 doubles at each step: stopped at
		// MaxExpandedBytes with the variable named, once.
		{fixture: "expansion_bomb", want: []want{errAt("variable v17 expands to more than 65536 bytes: its references repeat one another (${var.v16} is used more than once at each step); a value may expand to at most 65536 bytes", "databricks.yml:39:14")}},
		// Independent problems of several phases (schema, interpolation,
		// resource checks) in one run.
		{fixture: "several_phases", opts: LoadOptions{Target: "dev"}, want: []want{
			warnAt(`unknown field "max_concurent_runs" (did you mean "max_concurrent_runs"?)`, "databricks.yml:7:7"),
			errAt("reference to undefined variable ${var.endpoint_nmae}", "databricks.yml:14:13"),
			errAt(`traffic routes of endpoint "endpoint" sum to 90%, not 100%`, "databricks.yml:27:13"),
		}},
		// A resource only a target defines is valid in the CLI; one whose
		// key is close to a top-level key is most likely a misspelt
		// override, which this project warns about (the CLI says nothing).
		{fixture: "target_resource_typo", want: []want{
			warnAt(`target "prod" defines jobs "train_modle", which the top level does not (did you mean "train_model"?)`, "databricks.yml:17:9"),
			{diag.Recommendation, `job "train_modle" has no tasks`, "databricks.yml:18:11"},
		}},
		{fixture: "undefined_variable", want: []want{errAt("reference to undefined variable ${var.model_nmae}", "databricks.yml:9:13")}},
		{fixture: "variable_cycle", want: []want{errAt("cycle in references: var.a -> var.b -> var.c -> var.a", "databricks.yml:5:14")}},
		{fixture: "variable_without_value", opts: LoadOptions{Target: "prod"}, want: []want{errAt(`no value assigned to required variable "endpoint_name" in target "prod"`, "databricks.yml:4:3")}},
		// Unknown fields and wrong types: the CLI's normalization warns and
		// leaves the value out (libs/dyn/convert/normalize.go; printed in
		// acceptance/bundle/validate/models/user_id and
		// override/merge-string-map).
		{fixture: "unknown_job_field", want: []want{
			warnAt(`unknown field "taks" (did you mean "tasks"?)`, "resources/job.yml:5:7"),
			{diag.Recommendation, `job "train" has no tasks`, "resources/job.yml:4:7"},
		}},
		{fixture: "wrong_type", want: []want{warnAt(`expected an integer, found string "ten minutes"`, "databricks.yml:7:24")}},
		{fixture: "traffic_sum_90", want: []want{errAt(`traffic routes of endpoint "endpoint" sum to 90%, not 100%`, "databricks.yml:19:13")}},
		{fixture: "route_unknown_entity", want: []want{errAt(`traffic route of endpoint "endpoint" names served entity "agent_model-2", which the endpoint does not serve`, "databricks.yml:14:35")}},
		// The CLI refuses it when a user deploys and recommends it when a
		// service principal does (resourcemutator/validate_target_mode.go):
		// offline the identity is unknown, so a warning; a named user gets
		// the error (TestProductionRootPath).
		{fixture: "prod_without_root_path", opts: LoadOptions{CurrentUser: OfflineUser}, want: []want{warnAt("target with 'mode: production' must set 'workspace.root_path' to make sure only one copy is deployed unless a service principal deploys it", "databricks.yml:17:11")}},
		{fixture: "unknown_section", want: []want{errAt(`reference ${bundel.name} names unknown section "bundel"`, "databricks.yml:6:13")}},

		// More ways to get a bundle wrong.
		{fixture: "target_assigns_undeclared_variable", want: []want{errAt(`variable "modle_name" is not defined but is assigned a value in target "dev"`, "databricks.yml:12:7")}},
		{fixture: "unknown_target", opts: LoadOptions{Vars: map[string]string{"nope": "1"}}, want: []want{errAt(`--var nope: the bundle declares no variable "nope"`, "")}},
		// Enum values and required fields: warnings in the CLI
		// (bundle/config/validate/enum.go, required.go; printed in
		// acceptance/bundle/validate/enum and validate/required).
		{fixture: "invalid_enum", want: []want{warnAt(`invalid value for data_security_mode: value "EVERYONE" is not one of ...`, "databricks.yml:12:33")}},
		{fixture: "missing_required_field", want: []want{warnAt(`missing required field "task_key"`, "databricks.yml:8:11")}},
		{fixture: "duplicate_yaml_key", want: []want{errAt(`duplicate key "name"`, "databricks.yml:3:3")}},
		{fixture: "dev_shared_root_path", want: []want{errAt("root_path must start with '~/' or contain the current username to ensure uniqueness when using 'mode: development'", "databricks.yml:8:18")}},
		{fixture: "dev_unpaused", want: []want{errAt("target with 'mode: development' cannot set trigger pause status to UNPAUSED by default", "databricks.yml:9:29")}},
		// resourcemutator/override_compute.go: applied in any mode, a warning
		// in production.
		{fixture: "prod_cluster_override", want: []want{warnAt("Setting a cluster override for a target that uses 'mode: production' is not recommended", "databricks.yml:6:17")}},
		{fixture: "unknown_mode", want: []want{errAt(`unsupported value "staging" for mode: must be development or production`, "databricks.yml:5:11")}},
		{fixture: "policy_out_of_range", want: []want{
			errAt(`variable canary_max_duration must be a duration such as 60s or 2m, found "soon"`, "databricks.yml:17:28"),
			errAt("canary_traffic_percent must be between 1 and 99, found 100", "databricks.yml:15:31"),
			errAt("analysis_interval must be a whole number of minutes between 1m and 60m (the metrics export holds per-minute windows), found 30s", "databricks.yml:16:26"),
		}},
		{fixture: "policy_removed_variable", want: []want{
			errAt("variable max_error_rate was removed: errors are judged as the candidate's share of the endpoint's errors against its share of traffic; set canary_alpha and canary_max_error_ratio", "databricks.yml:10:19"),
		}},
		{fixture: "validation_policy", want: []want{
			errAt(`variable validation_shadow_requests must be an integer, found "many"`, "databricks.yml:13:35"),
			errAt("validation_min_interrupt_recall must be a fraction in [0, 1], found 1.5", "databricks.yml:12:40"),
		}},
		{fixture: "validation_incomplete", want: []want{errAt("the validation policy is incomplete: declare variables validation_shadow_requests, validation_warehouse_id", "databricks.yml:3:1")}},
		{fixture: "policy_incomplete", want: []want{errAt("the load test policy is incomplete: declare variables load_max_p95_ms, load_max_error_rate, load_min_rps", "databricks.yml:3:1")}},
		// A map value without type: complex is accepted by the CLI
		// (bundle/config/root.go rewriteShorthands; nothing checks the type).
		{fixture: "complex_without_type"},
		{fixture: "missing_python_file", want: []want{
			errAt(`file src/train.py does not exist (from "../src/train.py", relative to resources/)`, "resources/job.yml:9:26"),
			errAt(`path "../../outside.py" points outside the bundle root`, "resources/job.yml:13:26"),
		}},
		// loader/process_include.go: a warning, and not followed.
		{fixture: "include_in_included_file", want: []want{warnAt("Include section is defined outside root file", "resources/more.yml:2:3")}},
		{fixture: "two_documents", want: []want{errAt("a configuration file must hold one YAML document, found a second one", "databricks.yml:3:1")}},
		{fixture: "empty_root_file", want: []want{errAt("bundle.name is required", "databricks.yml:1:1")}},
		// The target's value is left out on load, so nothing is merged.
		{fixture: "override_shape_mismatch", want: []want{warnAt("expected a map, found sequence", "databricks.yml:20:17")}},
		{fixture: "bad_host", want: []want{errAt(`workspace.host "adb-1.1.azuredatabricks.net/?o=1" is not a URL such as ...`, "databricks.yml:6:13")}},
		// Offline a lookup cannot be resolved; the deploy resolves it
		// (TestLookupResolved).
		{fixture: "lookup_variable", want: []want{warnAt(`variable "warehouse_id" looks up warehouse "Shared Warehouse", which needs a workspace: resolved when a target is deployed`, "databricks.yml:6:7")}},
		{fixture: "job_references", want: []want{
			errAt(`task "prepare" uses job cluster "missing_cluster", which job "train" does not define`, "databricks.yml:9:28"),
			errAt(`task "train" depends on task "prepar", which job "train" does not define`, "databricks.yml:14:25"),
		}},
		{fixture: "bad_endpoint_name", want: []want{
			errAt(`serving endpoint name "agent endpoint" may only hold letters, digits, dashes and underscores`, "databricks.yml:6:13"),
			errAt(`served entity "agent_model" of endpoint "endpoint" needs entity_version`, "databricks.yml:9:13"),
		}},
		// resourcemutator/run_as.go (acceptance/bundle/run_as/invalid_both_sp_and_user).
		{fixture: "run_as_both", want: []want{errAt("run_as section cannot specify both user_name and service_principal_name", "databricks.yml:4:3")}},
		{fixture: "interpolate_map_into_string", want: []want{errAt("cannot interpolate map ${var.cluster} into a string; only a whole value may be a map or sequence", "databricks.yml:11:13")}},
		// Unity Catalog models (resources.registered_models). Name rules:
		// https://docs.databricks.com/aws/en/data-governance/unity-catalog/requirements
		// (no period, space, slash or control character; 255 characters).
		{fixture: "uc_missing_catalog", want: []want{
			errAt(`registered model "model" needs catalog_name (Unity Catalog models live in a catalog and schema)`, "databricks.yml:6:7"),
			errAt(`registered model "model" needs schema_name (Unity Catalog models live in a catalog and schema)`, "databricks.yml:6:7"),
		}},
		{fixture: "uc_bad_names", want: []want{
			errAt(`catalog_name "ml/dev" of registered model "model" holds a slash (/)`, "databricks.yml:10:21"),
			errAt(`schema_name "agents.v2" of registered model "model" holds a period (.), which separates catalog, schema and name`, "databricks.yml:11:20"),
			errAt(`name "interrupt agent" of registered model "model" holds a space`, "databricks.yml:9:13"),
		}},
		// Privileges are the SDK's catalog.Privilege values, as in the CLI's
		// bundle schema (grants are catalog.PrivilegeAssignment there).
		{fixture: "uc_unknown_privilege", want: []want{
			errAt(`grant of registered model "model" names unknown privilege "EXCUTE" (did you mean "EXECUTE"?)`, "databricks.yml:11:24"),
			errAt(`grant of registered model "model" names unknown privilege "all privileges" (did you mean "ALL_PRIVILEGES"?)`, "databricks.yml:14:15"),
			errAt(`grant 2 of registered model "model" names no principal (a user, group or service principal)`, "databricks.yml:15:22"),
			errAt(`grant 2 of registered model "model" grants no privileges`, "databricks.yml:16:23"),
		}},
		{fixture: "uc_both_registries_key", want: []want{errAt(`model "model" is declared in both registries: resources.models and resources.registered_models`, "databricks.yml:8:5")}},
		// Development mode prefixes the two differently ("[dev alice] " and
		// dev_alice_); the names still match.
		{fixture: "uc_both_registries_name", want: []want{errAt(`model "interrupt_agent" is declared in both registries: resources.models.workspace_model (workspace registry) and resources.registered_models.uc_model (Unity Catalog)`, "databricks.yml:12:13")}},
		{fixture: "uc_alias_hyphen", want: []want{errAt(`variable champion_alias: alias "my-alias" may only hold letters, digits and underscores (A-Z, a-z, 0-9, _); for example "my_alias"`, "databricks.yml:5:14")}},
		{fixture: "uc_same_aliases", want: []want{errAt(`variables champion_alias ("champion") and challenger_alias ("Champion") name the same alias: setting the canary's would move the serving version's`, "databricks.yml:19:25")}},
		// MLflow reserves "latest" and v<number> as alias names
		// (mlflow/utils/validation.py, _validate_model_alias_name).
		{fixture: "uc_aliases_and_full_name", want: []want{
			warnAt(`name "Interrupt_Agent" of registered model "model" is stored as "interrupt_agent": Unity Catalog keeps names in lowercase`, "databricks.yml:6:13"),
			errAt(`full_name "dev.agents.other_model" of registered model "model" is not catalog_name.schema_name.name (dev.agents.Interrupt_Agent); leave it out, the service sets it`, "databricks.yml:9:18"),
			errAt(`registered model "model": alias "latest" is reserved: latest always means the newest version`, "databricks.yml:11:23"),
			warnAt(`registered model "model" declares aliases; the deploy moves aliases, the bundle does not`, "databricks.yml:11:9"),
		}},
		{fixture: "../good/minimal", opts: LoadOptions{Host: "https://adb-3.3.azuredatabricks.net"}, want: []want{errAt(`workspace host mismatch: target "dev" deploys to https://adb-1.1.azuredatabricks.net, not https://adb-3.3.azuredatabricks.net`, "databricks.yml:20:13")}},
	}
	for _, tt := range tests {
		name := tt.fixture
		if tt.opts.Target != "" || tt.opts.Vars != nil || tt.opts.Host != "" {
			name += "/opts"
		}
		t.Run(name, func(t *testing.T) {
			opts := tt.opts
			if opts.CurrentUser == "" {
				opts.CurrentUser = "alice@example.com"
			}
			b, diags := Load(filepath.Join("testdata", "bad", tt.fixture), opts)
			assertDiags(t, diags, tt.want)
			if diags.HasError() {
				assert.Nil(t, b, "a bundle with errors is not returned")
			} else {
				assert.NotNil(t, b)
			}
		})
	}
}

// assertDiags checks that diags are exactly want, in order.
func assertDiags(t *testing.T, diags diag.Diagnostics, wants []want) {
	t.Helper()
	require.Len(t, diags, len(wants), "diagnostics:\n%s", diags)
	for i, w := range wants {
		d := diags[i]
		assert.Equal(t, w.severity, d.Severity, "diagnostic %d: %s", i, d.Summary)
		if prefix, ok := strings.CutSuffix(w.summary, "..."); ok {
			assert.True(t, strings.HasPrefix(d.Summary, prefix), "diagnostic %d summary %q, want prefix %q", i, d.Summary, prefix)
		} else {
			assert.Equal(t, w.summary, d.Summary, "diagnostic %d", i)
		}
		if w.at == "" {
			assert.Empty(t, d.Locations, "diagnostic %d", i)
			continue
		}
		require.NotEmpty(t, d.Locations, "diagnostic %d has no location", i)
		got := d.Locations[0].String()
		if strings.Count(w.at, ":") == 1 {
			got = d.Locations[0].File + ":" + strconv.Itoa(d.Locations[0].Line)
		}
		assert.Equal(t, w.at, got, "diagnostic %d: %s", i, d.Summary)
	}
}

// TestBadInputFixturesAreUsed keeps the fixture directory and the table in
// step: every fixture is exercised.
func TestBadInputFixturesAreUsed(t *testing.T) {
	src, err := os.ReadFile("bad_test.go")
	require.NoError(t, err)
	entries, err := os.ReadDir(filepath.Join("testdata", "bad"))
	require.NoError(t, err)
	for _, e := range entries {
		assert.Contains(t, string(src), `fixture: "`+e.Name()+`"`, "fixture %s has no test", e.Name())
	}
}

func TestNoRootFile(t *testing.T) {
	dir := t.TempDir()
	_, diags := Load(dir, LoadOptions{})
	require.Len(t, diags, 1)
	assert.Equal(t, "no databricks.yml in "+dir, diags[0].Summary)
	assert.True(t, diags.HasError())
}

func TestTwoRootFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"databricks.yml", "bundle.yml"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("bundle: {name: x}\n"), 0o644))
	}
	_, diags := Load(dir, LoadOptions{})
	require.Len(t, diags, 1)
	assert.Contains(t, diags[0].Summary, "both databricks.yml and bundle.yml exist")
}

func TestLookupUserFailure(t *testing.T) {
	_, diags := Load(filepath.Join("testdata", "good", "minimal"), LoadOptions{
		LookupUser: func() (User, error) { return User{}, assertErr("401 Unauthorized") },
	})
	require.Len(t, diags, 1)
	assert.Equal(t, "cannot determine the current workspace user: 401 Unauthorized", diags[0].Summary)
}

type assertErr string

func (e assertErr) Error() string { return string(e) }
