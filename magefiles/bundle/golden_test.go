package bundle

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./magefiles/bundle/ -run %s -update", t.Name())
	assert.Equal(t, string(want), string(got), "golden %s differs; rerun with -update if the change is intended", path)
}

// TestGoldenConfig pins the fully resolved configuration of each target of
// the repository's own bundle: what bundle:config prints and what the
// deploy stages get.
func TestGoldenConfig(t *testing.T) {
	for _, target := range []string{"dev", "staging", "prod"} {
		t.Run(target, func(t *testing.T) {
			b := loadOK(t, filepath.Join("..", ".."), LoadOptions{Target: target, CurrentUser: "alice@example.com"})
			out, err := b.Config()
			require.NoError(t, err)
			golden(t, "config-"+target+".json", out)
		})
	}
}

// TestGoldenReports pins the text and JSON renderings people and CI read.
func TestGoldenReports(t *testing.T) {
	clean := ValidateAll(filepath.Join("..", ".."), LoadOptions{CurrentUser: "alice@example.com"})
	zeroDurations(clean)
	var text bytes.Buffer
	require.NoError(t, WriteText(&text, clean, diag.TextOptions{}))
	golden(t, "validate-all.txt", text.Bytes())

	for _, fixture := range []string{"traffic_sum_90", "duplicate_resource_key", "policy_out_of_range", "prod_without_root_path"} {
		t.Run(fixture, func(t *testing.T) {
			results := Check(filepath.Join("testdata", "bad", fixture), CheckOptions{Target: AllTargets, Load: LoadOptions{CurrentUser: "alice@example.com"}})
			zeroDurations(results)
			var text, js bytes.Buffer
			require.NoError(t, WriteText(&text, results, diag.TextOptions{}))
			require.NoError(t, WriteJSON(&js, results))
			golden(t, "validate-"+fixture+".txt", text.Bytes())
			golden(t, "validate-"+fixture+".json", js.Bytes())
		})
	}
}

func zeroDurations(results []TargetResult) {
	for i := range results {
		results[i].Duration = 0
	}
}
