package canary

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout/judge"
)

func TestSimulateSmallGrid(t *testing.T) {
	g := DefaultGrid()
	g.BaselineRates, g.CanaryRPM, g.Runs = []float64{0.01}, []int{300}, 300
	rep := Simulate(judge.DefaultConfig(), DefaultThresholdJudge(), g)
	require.Len(t, rep.Cells, 5)
	byName := map[string]Cell{}
	for _, c := range rep.Cells {
		byName[c.Candidate.Name] = c
		assert.Equal(t, c.Runs, c.Sequential.Aborts+c.Sequential.Promotions+c.Sequential.Insufficient)
	}
	assert.LessOrEqual(t, byName["identical"].Sequential.Aborts, 3)
	assert.Greater(t, byName["identical"].Thresholds.Aborts, 30, "the threshold judge aborts healthy releases often here")
	assert.Equal(t, 300, byName["6x"].Sequential.Aborts)
	assert.True(t, byName["3x"].GoalMet)
	require.NotNil(t, byName["3x"].Oracle)
	md := rep.Markdown()
	assert.Contains(t, md, "| 1% | 300 | identical |")
	assert.Contains(t, md, "identical aborted <= 1%: met in all 1 cells")

	dir := t.TempDir()
	require.NoError(t, rep.Write(dir))
	raw, err := os.ReadFile(filepath.Join(dir, "canary.json"))
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Len(t, back.Cells, 5)
	md2, err := os.ReadFile(filepath.Join(dir, "canary.md"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(md2), "canary judges"))
	require.Error(t, rep.Write(filepath.Join(dir, "canary.json", "x")), "a path under a file")
}

func TestOraclePower(t *testing.T) {
	// Poisson(4.5): P(X >= 11) = 0.0069 <= 1% < P(X >= 10); power at 13.5
	// is P(Poisson(13.5) >= 11) = 0.789.
	assert.InDelta(t, 0.789, oraclePower(4.5, 13.5, 0.01), 0.001)
	assert.Equal(t, 1.0, oraclePower(0, 1, 0.01))
}
