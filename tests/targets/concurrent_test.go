package targets

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

// Several `go run mage.go` in one checkout at once, half of them forcing a
// fresh compile (-f) into an empty binary cache: every run must compile, or
// wait for the one compiling, and then run its target. Plain mage rewrote
// and deleted magefiles/mage_output_file.go on every run, and runs like
// these failed at random with "error compiling magefiles".
func TestConcurrentRunsInOneCheckoutAllCompile(t *testing.T) {
	root, err := project.Root()
	require.NoError(t, err)
	cache := t.TempDir()

	const runs = 6
	outs := make([]string, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"run", "mage.go", "bundle:validate", "dev"}
			if i%2 == 0 {
				args = []string{"run", "mage.go", "-f", "bundle:validate", "dev"}
			}
			cmd := exec.Command("go", args...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "NO_COLOR=1", "MAGEBIN_CACHE="+cache)
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	for i := range runs {
		require.NoError(t, errs[i], "run %d:\n%s", i, outs[i])
		assert.Contains(t, outs[i], "Validation OK", "run %d", i)
	}
	built, err := filepath.Glob(filepath.Join(cache, "*", "mage"))
	require.NoError(t, err)
	assert.Len(t, built, 1, "every run used the one binary for these magefiles")
	assert.NoFileExists(t, filepath.Join(root, "magefiles", "mage_output_file.go"))
}
