package bundle

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
)

var ucFixture = filepath.Join("testdata", "good", "unity_catalog")

// TestUnityCatalogFixture loads the Unity Catalog bundle for every target:
// no diagnostics at all, one model per environment's catalog, and the
// training job, the promotion job and the endpoint all naming the model the
// bundle creates (development mode's prefix included).
func TestUnityCatalogFixture(t *testing.T) {
	results := ValidateAll(ucFixture, LoadOptions{CurrentUser: "alice@example.com"})
	require.Len(t, results, 3)
	want := map[string]string{
		"dev":     "dev.human_interrupt_agent.dev_alice_interrupt_agent",
		"staging": "staging.human_interrupt_agent.interrupt_agent",
		"prod":    "prod.human_interrupt_agent.interrupt_agent",
	}
	for _, r := range results {
		t.Run(r.Target, func(t *testing.T) {
			require.Empty(t, r.Diagnostics, "%s", r.Diagnostics)
			b := r.Bundle
			m, err := b.RegistryModel()
			require.NoError(t, err)
			assert.Equal(t, RegistryUnityCatalog, m.Registry)
			assert.Equal(t, "human_interrupt_model", m.Key)
			assert.Equal(t, want[r.Target], m.FullName)
			assert.Equal(t, r.Target, m.Catalog)
			assert.Equal(t, "human_interrupt_agent", m.Schema)
			assert.Equal(t, "champion", m.Champion)
			assert.Equal(t, "challenger", m.Challenger)

			train := b.Jobs["train_model"].Settings.Tasks[0].SparkPythonTask.Parameters
			assert.Equal(t, m.FullName, argAfter(train, "--model-name"), "the training job registers into the bundle's model")
			promote, err := b.Job("promote_model")
			require.NoError(t, err)
			task := promote.Settings.Tasks[0]
			assert.Equal(t, "copy_version", task.TaskKey)
			assert.Equal(t, m.FullName, argAfter(task.SparkPythonTask.Parameters, "--target-model"))
			assert.Equal(t, "{{job.parameters.release_alias}}", argAfter(task.SparkPythonTask.Parameters, "--release-alias"))
			var params []string
			for _, p := range promote.Settings.Parameters {
				params = append(params, p.Name)
			}
			assert.Equal(t, []string{"source_model", "source_version", "release_alias", "release_tag", "git_sha"}, params)
			assert.True(t, strings.HasSuffix(promote.Settings.Name, "human-interrupt-agent-promote-"+r.Target))

			se := b.ServingEndpoints["human_interrupt_endpoint"].Request.Config.ServedEntities[0]
			assert.Equal(t, m.FullName, se.EntityName, "served entities name the three-level model")

			rm := b.RegisteredModels["human_interrupt_model"]
			assert.Equal(t, []Grant{{Principal: "ml-release-managers", Privileges: []string{"EXECUTE"}}}, rm.Grants)
		})
	}
}

func argAfter(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// TestGoldenUnityCatalogConfig pins what bundle:config prints for the
// Unity Catalog bundle, and its validation report.
func TestGoldenUnityCatalogConfig(t *testing.T) {
	for _, target := range []string{"dev", "staging", "prod"} {
		t.Run(target, func(t *testing.T) {
			b := loadOK(t, ucFixture, LoadOptions{Target: target, CurrentUser: "alice@example.com"})
			out, err := b.Config()
			require.NoError(t, err)
			golden(t, "config-uc-"+target+".json", out)
		})
	}
	results := ValidateAll(ucFixture, LoadOptions{CurrentUser: "alice@example.com"})
	zeroDurations(results)
	var text bytes.Buffer
	require.NoError(t, WriteText(&text, results, diag.TextOptions{}))
	golden(t, "validate-uc.txt", text.Bytes())
}

func TestUnityCatalogCatalogFromVar(t *testing.T) {
	b := loadOK(t, ucFixture, LoadOptions{Target: "prod", Vars: map[string]string{"catalog": "ml_prod", "challenger_alias": "canary"}})
	m, err := b.RegistryModel()
	require.NoError(t, err)
	assert.Equal(t, "ml_prod.human_interrupt_agent.interrupt_agent", m.FullName)
	assert.Equal(t, "canary", m.Challenger)
	assert.Equal(t, m.FullName, argAfter(b.Jobs["train_model"].Settings.Tasks[0].SparkPythonTask.Parameters, "--model-name"))
}

// TestRegistryModelWorkspace: the repository's own bundle still declares
// a workspace registry model; the accessor says so.
func TestRegistryModelUnityCatalog(t *testing.T) {
	b := loadOK(t, filepath.Join("..", ".."), LoadOptions{Target: "prod"})
	m, err := b.RegistryModel()
	require.NoError(t, err)
	assert.Equal(t, RegistryModel{
		Registry: RegistryUnityCatalog, Key: "human_interrupt_model",
		FullName: "prod.human_interrupt_agent.interrupt_agent", Catalog: "prod", Schema: "human_interrupt_agent", Name: "interrupt_agent",
		Champion: DefaultChampionAlias, Challenger: DefaultChallengerAlias,
	}, *m)
}

func TestRegistryModelChoice(t *testing.T) {
	const head = "bundle: {name: r}\nvariables:\n  model_name: {default: agent}\ntargets:\n  dev:\n    mode: development\n    workspace: {host: https://h.example.com}\nresources:\n"
	tests := []struct {
		name, resources string
		full            string
		registry        Registry
		err             string
	}{
		{name: "no model", resources: "  experiments:\n    e: {name: /Shared/e}\n",
			err: "bundle r (target dev) declares no model (resources.registered_models or resources.models): nothing to register versions under"},
		{name: "var.model_name picks the prefixed Unity Catalog model", resources: "  registered_models:\n    a: {name: other, catalog_name: c, schema_name: s}\n    b: {name: \"${var.model_name}\", catalog_name: c, schema_name: s}\n",
			full: "c.s.dev_ann_agent", registry: RegistryUnityCatalog},
		{name: "var.model_name picks the prefixed workspace model", resources: "  registered_models:\n    a: {name: other, catalog_name: c, schema_name: s}\n  models:\n    b: {name: \"${var.model_name}\"}\n",
			full: "[dev ann] agent", registry: RegistryWorkspace},
		{name: "the workspace registry only", resources: "  models:\n    m: {name: \"${var.model_name}\"}\n",
			full: "[dev ann] agent", registry: RegistryWorkspace},
		{name: "several, none named", resources: "  registered_models:\n    a: {name: x, catalog_name: c, schema_name: s}\n    b: {name: y, catalog_name: c, schema_name: s}\n",
			err: `bundle r (target dev) declares 2 models and none is named by var.model_name ("agent")`},
		{name: "uppercase is stored lowercase", resources: "  registered_models:\n    a: {name: Agent, catalog_name: Dev, schema_name: s}\n",
			full: "dev.s.dev_ann_agent", registry: RegistryUnityCatalog},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := loadOK(t, "mem", LoadOptions{FS: fstest.MapFS{"databricks.yml": {Data: []byte(head + tt.resources)}}, CurrentUser: "ann@example.com"})
			m, err := b.RegistryModel()
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.full, m.FullName)
			assert.Equal(t, tt.registry, m.Registry)
		})
	}
}

// TestRegisteredModelChecks covers the Unity Catalog checks not in the
// bad-input fixtures, one snippet each.
func TestRegisteredModelChecks(t *testing.T) {
	const head = "bundle: {name: r}\nworkspace: {host: https://h.example.com, root_path: /Workspace/r}\n"
	tests := []struct {
		name, config string
		summary, at  string
	}{
		{"name too long", "resources:\n  registered_models:\n    m: {name: " + strings.Repeat("a", 256) + ", catalog_name: c, schema_name: s}\n",
			`name "` + strings.Repeat("a", 256) + `" of registered model "m" is longer than 255 characters`, "databricks.yml:5:15"},
		{"control character", "resources:\n  registered_models:\n    m: {name: \"a\\tb\", catalog_name: c, schema_name: s}\n",
			`name "a\tb" of registered model "m" holds the control character U+0009`, "databricks.yml:5:15"},
		{"empty name", "resources:\n  registered_models:\n    m: {name: \"\", catalog_name: c, schema_name: s}\n",
			`registered model "m" has no name`, "databricks.yml:5:15"},
		{"version alias reserved", "resources:\n  registered_models:\n    m:\n      name: m\n      catalog_name: c\n      schema_name: s\n      aliases: [{alias_name: V12}]\n",
			`registered model "m": alias "V12" is reserved: v<number> names a version`, "databricks.yml:9:30"},
		{"alias variable not a string", "variables:\n  challenger_alias: {default: 5}\n",
			"variable challenger_alias must be an alias name, found 5", "databricks.yml:4:31"},
		{"alias variable empty", "variables:\n  champion_alias: {default: \"\"}\n",
			"variable champion_alias: an alias needs a name", "databricks.yml:4:29"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Load("mem", LoadOptions{FS: fstest.MapFS{"databricks.yml": {Data: []byte(head + tt.config)}}})
			require.NotEmpty(t, diags)
			d := diags[0]
			assert.Equal(t, diag.Error, d.Severity)
			assert.Equal(t, tt.summary, d.Summary, "%s", diags)
			require.NotEmpty(t, d.Locations)
			assert.Equal(t, tt.at, d.Locations[0].String())
		})
	}
}

func TestCheckAlias(t *testing.T) {
	tests := []struct{ alias, why string }{
		{"champion", ""},
		{"release_v1_2_0_rc_1", ""},
		{"Challenger_2", ""},
		{"", "an alias needs a name"},
		{"my-alias", `alias "my-alias" may only hold letters, digits and underscores (A-Z, a-z, 0-9, _); for example "my_alias"`},
		{"release v1.2", `alias "release v1.2" may only hold letters, digits and underscores (A-Z, a-z, 0-9, _); for example "release_v1_2"`},
		{"LATEST", `alias "LATEST" is reserved: latest always means the newest version`},
		{"v3", `alias "v3" is reserved: v<number> names a version`},
		{"v3a", ""},
		{strings.Repeat("a", 256), `alias "` + strings.Repeat("a", 256) + `" is longer than 255 characters`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.why, CheckAlias(tt.alias), "alias %q", tt.alias)
	}
}

func TestReleaseAlias(t *testing.T) {
	tests := []struct{ tag, alias string }{
		{"v1.2.0", "release_v1_2_0"},
		{"v1.2.0-rc.1", "release_v1_2_0_rc_1"},
		{"v2.0.0+build.7", "release_v2_0_0_build_7"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.alias, ReleaseAlias(tt.tag))
		assert.Empty(t, CheckAlias(ReleaseAlias(tt.tag)), "a release alias is a valid alias")
	}
}
