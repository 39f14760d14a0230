package bundle

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/dyn"
)

// The corpus under testdata/corpus holds bundles the Databricks CLI
// deploys as they stand: together they use every resource type and every
// top-level section of its configuration. Each loads here without an
// error, with exactly the warnings the CLI gives (the evidence is cited
// per case); none is refused without -strict.
func TestCorpus(t *testing.T) {
	const sp = "9f0c8a4e-3b6d-4c1e-8a2f-5d7b6e4c3a21"
	tests := []struct {
		name, fixture string
		opts          LoadOptions
		want          []want
	}{
		// One of each of the 33 resource types with the fields the
		// CLI's schema requires: nothing to say.
		{name: "all resources", fixture: "all_resources"},
		// Every top-level section. The python: resources need the CLI's
		// Python run (python_mutator.go), the lookup a workspace
		// (resolve_lookup_variables.go); an include of ../shared is read
		// (process_root_includes.go, acceptance/bundle/includes/
		// yml_outside_root); the wheel and jar an artifacts: build makes
		// are not checked before the build (libraries/
		// expand_glob_references.go, acceptance/bundle/artifacts/
		// whl_dynamic); a list given to a variable without type: complex
		// is taken (root.go rewriteShorthands).
		{name: "all sections, dev", fixture: "all_sections", want: []want{
			warnAt("resources defined or changed in Python are not loaded here: resources:load_resources", "databricks.yml:81:3"),
			warnAt(`variable "warehouse_id" looks up warehouse "Shared Warehouse", which needs a workspace: resolved when a target is deployed`, "databricks.yml:29:7"),
		}},
		// Production with a cluster override: applied, with the CLI's
		// warning (resourcemutator/override_compute.go); every job has
		// run_as, so no root_path rule fires.
		{name: "all sections, prod", fixture: "all_sections", opts: LoadOptions{Target: "prod", CurrentUser: sp}, want: []want{
			warnAt("resources defined or changed in Python are not loaded here: resources:load_resources", "databricks.yml:81:3"),
			warnAt(`variable "warehouse_id" looks up warehouse "Shared Warehouse", which needs a workspace: resolved when a target is deployed`, "databricks.yml:29:7"),
			warnAt("Setting a cluster override for a target that uses 'mode: production' is not recommended", "databricks.yml:107:17"),
		}},
		// The MLOps template's layout: anchors kept under keys of their
		// own are silent (normalize.go isAnchorContainer); the two
		// warnings are the two the CLI prints for the template's project
		// (acceptance/bundle/deploy/mlops-stacks/output.txt): the empty
		// dev host and the experiment's description.
		{name: "MLOps template layout", fixture: "mlops_stack_layout", opts: LoadOptions{Vars: map[string]string{"catalog_name": "main"}}, want: []want{
			warnAt("expected a string value, found null", "databricks.yml:31:12"),
			warnAt(`unknown field "description"`, "resources/ml-artifacts-resource.yml:22:7"),
			{diag.Recommendation, `target "dev" sets no workspace.host; the environment (DATABRICKS_HOST or a profile) decides where it deploys`, ""},
		}},
		// The whole file is read for every target, the dev host too.
		{name: "MLOps template layout, prod", fixture: "mlops_stack_layout", opts: LoadOptions{Target: "prod", Vars: map[string]string{"catalog_name": "main"}}, want: []want{
			warnAt("expected a string value, found null", "databricks.yml:31:12"),
			warnAt(`unknown field "description"`, "resources/ml-artifacts-resource.yml:22:7"),
		}},
		// environments: is the CLI's old name for targets:
		// (mutator/environments_compat.go); a resource only one target
		// defines is that target's (the CLI merges it in).
		{name: "environments and a target-only job", fixture: "environments_alias", opts: LoadOptions{Target: "dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			if opts.CurrentUser == "" {
				opts.CurrentUser = "alice@example.com"
			}
			b, diags := Load(filepath.Join("testdata", "corpus", tt.fixture), opts)
			assertDiags(t, diags, tt.want)
			require.NotNil(t, b, "a bundle the CLI deploys loads")

			strict := Check(filepath.Join("testdata", "corpus", tt.fixture), CheckOptions{Target: b.Target, Strict: true, Load: opts})
			assert.Equal(t, diags.Count(diag.Warning) > 0, HasError(strict), "-strict refuses exactly the bundles with warnings")
		})
	}
}

// TestCorpusCoversTheSchema keeps the corpus complete: every resource type
// and every top-level section the schema defines is used by a corpus
// bundle, and the kind table lists every resource type of the schema.
func TestCorpusCoversTheSchema(t *testing.T) {
	sections, kinds := map[string]bool{}, map[string]bool{}
	err := filepath.WalkDir(filepath.Join("testdata", "corpus"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yml") {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var doc map[string]any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return err
		}
		for k, v := range doc {
			sections[k] = true
			if k == "resources" {
				for kind := range v.(map[string]any) {
					kinds[kind] = true
				}
			}
		}
		return nil
	})
	require.NoError(t, err)

	for _, s := range dyn.FieldNames(reflect.TypeOf(rootSchema{})) {
		assert.True(t, sections[s], "no corpus bundle uses the top-level section %q", s)
	}
	schemaKinds := dyn.FieldNames(reflect.TypeOf(resourcesSection{}))
	require.Len(t, allKinds, len(schemaKinds), "allKinds lists every resource type of the schema")
	for _, k := range schemaKinds {
		assert.True(t, kinds[k], "no corpus bundle declares resources.%s", k)
	}
	for _, k := range allKinds {
		assert.Contains(t, schemaKinds, k.Kind)
	}
}

// TestEveryResourceTypeIsChecked writes an unknown field into each
// resource of the all-resources bundle in turn: each is a warning at that
// resource, so every type is decoded against its own schema, not passed
// through.
func TestEveryResourceTypeIsChecked(t *testing.T) {
	root := filepath.Join("testdata", "corpus", "all_resources")
	base := fstest.MapFS{}
	require.NoError(t, fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(filepath.Join(root, p))
		base[p] = &fstest.MapFile{Data: data}
		return err
	}))
	src := string(base["databricks.yml"].Data)
	for _, k := range allKinds {
		t.Run(k.Kind, func(t *testing.T) {
			head := "\n  " + k.Kind + ":\n"
			i := strings.Index(src, head)
			require.GreaterOrEqual(t, i, 0)
			keyLine := strings.Index(src[i+len(head):], "\n") + i + len(head) + 1
			key := strings.TrimSuffix(strings.TrimSpace(src[i+len(head):keyLine]), ":")
			edited := src[:keyLine] + "      not_a_field: 1\n" + src[keyLine:]
			fsys := fstest.MapFS{}
			for p, f := range base {
				fsys[p] = f
			}
			fsys["databricks.yml"] = &fstest.MapFile{Data: []byte(edited)}
			b, diags := Load("mem", LoadOptions{FS: fsys, CurrentUser: "alice@example.com"})
			require.NotNil(t, b, "%s", diags)
			require.Len(t, diags, 1, "%s", diags)
			assert.Equal(t, diag.Warning, diags[0].Severity)
			assert.Equal(t, `unknown field "not_a_field"`, diags[0].Summary)
			assert.Equal(t, []string{"resources." + k.Kind + "." + key + ".not_a_field"}, diags[0].Paths)
		})
	}
}

// TestAllResourcesRoundTrip prints the all-resources bundle as
// bundle:config does and finds every resource in it, the types the
// deploy does not read as written.
func TestAllResourcesRoundTrip(t *testing.T) {
	b, diags := Load(filepath.Join("testdata", "corpus", "all_resources"), LoadOptions{CurrentUser: "alice@example.com"})
	require.False(t, diags.HasError(), "%s", diags)
	raw, err := b.Config()
	require.NoError(t, err)
	var cfg struct {
		Resources map[string]map[string]map[string]any `json:"resources"`
		Targets   any                                  `json:"targets"`
	}
	require.NoError(t, json.Unmarshal(raw, &cfg))
	assert.Nil(t, cfg.Targets, "targets are not part of the resolved configuration, as in bundle validate -o json")
	assert.Len(t, cfg.Resources, len(allKinds))
	for _, k := range allKinds {
		assert.NotEmpty(t, cfg.Resources[k.Kind], k.Kind)
	}
	assert.Equal(t, "bi", cfg.Resources["sql_warehouses"]["bi"]["name"])
	assert.Equal(t, "${resources.jobs.etl.id}", cfg.Resources["job_runs"]["etl_once"]["job_id"], "ids stay references for the deploy")

	require.Len(t, b.Others, len(allKinds)-len(deployedKinds))
	byKey := map[string]*OtherResource{}
	for _, o := range b.Others {
		byKey[o.Kind+"."+o.Key] = o
	}
	assert.Equal(t, "main.raw.files", byKey["volumes.landing_files"].Name)
	assert.Equal(t, "app-db", byKey["postgres_projects.app_db"].Name)
	assert.Equal(t, "databricks.yml:30:7", byKey["pipelines.bronze"].Location.String())

	why := b.UndeployableBySDK()
	assert.Contains(t, why, "resource types it does not deploy: job_runs, pipelines, quality_monitors")
}
