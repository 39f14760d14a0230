package bundle

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRepositoryLimitsSayHowTheyCount: the canary's failure and
// inconclusive limits count analyses in total (rollout/analysis.Decide:
// "failures count in total, not only in a row"), and the bundle's
// descriptions, which people read to tune them, say so.
func TestRepositoryLimitsSayHowTheyCount(t *testing.T) {
	b := loadOK(t, filepath.Join("..", ".."), LoadOptions{Target: "prod"})
	for _, name := range []string{VarFailureLimit, "inconclusive_limit"} {
		v, ok := b.Variables[name]
		require.True(t, ok, name)
		assert.Contains(t, v.Description, "in total", name)
		assert.NotContains(t, strings.ToLower(v.Description), "consecutive", name)
	}
}
