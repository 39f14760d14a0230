package bundle

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// BenchmarkLoadAndValidate loads and validates the repository's bundle for
// each target, from disk, as `mage bundle:validate <target>` does. The
// goal is under 20 ms per target; the ms/target metric is the figure.
func BenchmarkLoadAndValidate(b *testing.B) {
	root := filepath.Join("..", "..")
	for _, target := range []string{"dev", "staging", "prod"} {
		b.Run(target, func(b *testing.B) {
			opts := LoadOptions{Target: target, CurrentUser: "alice@example.com"}
			b.ReportAllocs()
			for b.Loop() {
				if _, diags := Load(root, opts); diags.HasError() {
					b.Fatalf("target %s:\n%s", target, diags)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/target")
		})
	}
	b.Run("all", func(b *testing.B) {
		opts := LoadOptions{CurrentUser: "alice@example.com"}
		targets := 0
		for b.Loop() {
			results := ValidateAll(root, opts)
			if HasError(results) {
				b.Fatal("repository bundle has errors")
			}
			targets += len(results)
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(targets), "ms/target")
	})
}

// BenchmarkLoad50Resources loads a generated bundle of 50 resources over
// ten types (jobs with tasks, pipelines, schemas, volumes, apps, clusters,
// SQL warehouses, serving endpoints, registered models, quality monitors)
// in three targets. The goal is under 200 ms per target.
func BenchmarkLoad50Resources(b *testing.B) {
	fsys := fiftyResources()
	opts := LoadOptions{FS: fsys, Target: "prod", CurrentUser: "9f0c8a4e-3b6d-4c1e-8a2f-5d7b6e4c3a21"}
	if bd, diags := Load("mem", opts); diags.HasError() || len(bd.Others)+len(bd.Jobs)+len(bd.ServingEndpoints)+len(bd.RegisteredModels) != 50 {
		b.Fatalf("generated bundle:\n%s", diags)
	}
	b.ReportAllocs()
	for b.Loop() {
		Load("mem", opts)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/target")
}

func fiftyResources() fstest.MapFS {
	var sb strings.Builder
	sb.WriteString("bundle: {name: fifty}\nvariables:\n  catalog: {default: main}\nresources:\n")
	kinds := []struct{ kind, body string }{
		{"jobs", "name: job-%d\n      tasks:\n        - task_key: main\n          existing_cluster_id: c-1\n          notebook_task: {notebook_path: /Shared/n%d}\n"},
		{"pipelines", "name: pipeline-%d\n      catalog: ${var.catalog}\n      schema: s%d\n      serverless: true\n"},
		{"schemas", "name: schema_%d\n      catalog_name: ${var.catalog}\n      comment: schema %d\n"},
		{"volumes", "name: volume_%d\n      catalog_name: ${var.catalog}\n      schema_name: s%d\n"},
		{"apps", "name: app-%d\n      description: app %d\n"},
		{"clusters", "cluster_name: cluster-%d\n      spark_version: 15.4.x-scala2.12\n      node_type_id: i3.xlarge\n      num_workers: %d\n"},
		{"sql_warehouses", "name: wh-%d\n      cluster_size: Small\n      max_num_clusters: %d\n"},
		{"model_serving_endpoints", "name: ep-%d\n      config:\n        served_entities:\n          - {entity_name: main.ml.m, entity_version: \"%d\", workload_size: Small, scale_to_zero_enabled: true}\n"},
		{"registered_models", "name: model_%d\n      catalog_name: ${var.catalog}\n      schema_name: ml%d\n"},
		{"quality_monitors", "table_name: main.ml.t%d\n      assets_dir: /Shared/m%d\n      output_schema_name: main.mon\n      snapshot: {}\n"},
	}
	for _, k := range kinds {
		fmt.Fprintf(&sb, "  %s:\n", k.kind)
		for i := range 5 {
			fmt.Fprintf(&sb, "    %s_%d:\n      ", k.kind, i)
			fmt.Fprintf(&sb, k.body, i, i+1)
		}
	}
	sb.WriteString("targets:\n  dev: {default: true, workspace: {host: https://h.example.com}}\n  staging: {workspace: {host: https://h.example.com}}\n  prod:\n    mode: production\n    workspace: {host: https://h.example.com, root_path: /Workspace/Shared/fifty}\n")
	return fstest.MapFS{"databricks.yml": {Data: []byte(sb.String())}}
}
