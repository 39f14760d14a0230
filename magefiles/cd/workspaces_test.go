package cd

import (
	"context"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// A target in a workspace of its own takes the train route only when it
// can train: exactly one training job.
func TestCannotTrain(t *testing.T) {
	tests := []struct {
		name string
		jobs map[string]*bundle.Job
		key  string
		want string
	}{
		{"one training job", map[string]*bundle.Job{"train_model": {}}, "train_model", ""},
		{"the only job", map[string]*bundle.Job{"fit": {}}, "fit", ""},
		{"no job", nil, "", "declares no training job"},
		{"two training jobs", map[string]*bundle.Job{"train_model": {}, "train_nightly": {}}, "train_model", "declares 2 training jobs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &EnvConfig{Env: testEnv(t, EnvStaging), Bundle: &bundle.Bundle{Jobs: tt.jobs}, TrainingJobKey: tt.key}
			got := cfg.cannotTrain()
			if tt.want == "" {
				assert.Empty(t, got)
				return
			}
			assert.Contains(t, got, tt.want)
		})
	}
}

// One workspace (one client, or hosts naming the same workspace) copies;
// no workspace id is asked for then.
func TestRouteWithinOneWorkspace(t *testing.T) {
	c := &workspace.Client{Host: "https://adb-1.azuredatabricks.net"}
	alias := &workspace.Client{Host: "https://adb-1.azuredatabricks.net/"}
	tests := []struct {
		name string
		src  *workspace.Client
	}{
		{"the same client", c},
		{"the same host", alias},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := &workspaceRegistry{registryBase: registryBase{cfg: &EnvConfig{Env: testEnv(t, EnvStaging)}, client: c}}
			route, err := reg.Route(context.Background(), EnvDev, tt.src)
			require.NoError(t, err)
			assert.Equal(t, RouteCopy, route)
		})
	}
}

// The stages of the route not taken skip, saying why; the train route's
// version carries its lineage and route.
func TestRouteSkips(t *testing.T) {
	src := &release.Record{Env: EnvDev, ID: "r1"}
	ctx := context.Background()
	staging := &EnvConfig{Env: testEnv(t, EnvStaging)}
	copyState := &State{Config: staging, Source: src, Route: RouteCopy}
	for _, st := range []Stage{Train{}, Register{}} {
		_, skip := IsSkip(st.Run(ctx, copyState))
		assert.True(t, skip, "%s skips on the copy route", st.Name())
	}
	trainState := &State{Config: staging, Source: src, Route: RouteTrain, SourceVersion: &ml.ModelVersion{Name: "m_dev", Version: "1"}}
	why, skip := IsSkip(Promote{}.Run(ctx, trainState))
	assert.True(t, skip, "promote skips on the train route")
	assert.Contains(t, why, "another workspace")
}
