package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// A bundle with resource types the sdk engine does not deploy (a pipeline
// and a Unity Catalog schema, which the Databricks CLI deploys) validates,
// and deploy:dev with the sdk engine refuses it before any write, naming
// the types and -engine=cli; plan lists both as refused and says why the
// deploy would stop.
func TestSDKEngineRefusesTypesItDoesNotDeploy(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	extra := `resources:
  pipelines:
    bronze:
      name: bronze-${bundle.target}
      catalog: main
      target: raw
  schemas:
    raw:
      name: raw
      catalog_name: main
`
	require.NoError(t, os.WriteFile(filepath.Join(w.repo.Dir, "resources", "lakehouse.yml"), []byte(extra), 0o644))
	w.repo.Commit("a pipeline and a schema")
	w.repo.Tag("v1.0.0")
	w.srv.ResetRequests()

	r, err := w.deploy(cd.EnvDev, func(o *cd.Options) { o.Engine = workspace.EngineSDK })
	require.Error(t, err, r.Output())
	for _, want := range []string{"the sdk engine cannot deploy target dev whole", "pipelines, schemas", "-engine=cli"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Empty(t, w.srv.MutatingRequests(), "refused before any write")

	pr := w.run(cd.EnvDev, func(o *cd.Options) { o.Engine = workspace.EngineSDK })
	p, err := cd.Plan(w.ctx, pr.Opts)
	require.NoError(t, err, pr.Output())
	refused := map[string]string{}
	for _, c := range p.Bundle {
		if c.Action == workspace.ActionRefused {
			refused[c.Kind] = c.Name
		}
	}
	assert.Equal(t, map[string]string{"pipelines": "bronze-dev", "schemas": "main.raw"}, refused)
	require.NotEmpty(t, p.Blocks)
	assert.Contains(t, p.Blocks[len(p.Blocks)-1], "-engine=cli")
	assert.Empty(t, w.srv.MutatingRequests(), "plan changes nothing")
}
