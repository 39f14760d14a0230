package checks

import (
	"os"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// DefaultPythons is the unit-test matrix when neither Config.Pythons nor
// CI_PYTHON_VERSIONS names one.
var DefaultPythons = []string{"3.9", "3.10", "3.11"}

// Config holds what the checks need to know about this run.
type Config struct {
	Root   string              // repository root
	Strict bool                // CI mode: a skipped matrix entry or a missing database is a failure
	Getenv func(string) string // environment lookup (os.Getenv by default)

	// History makes the secret scan read every commit, not only the
	// working tree.
	History bool
	// Pythons is the unit-test matrix; empty means DefaultPythons (or
	// CI_PYTHON_VERSIONS, comma-separated).
	Pythons []string
	// Bundle validates databricks.yml and resources/; nil means
	// DefaultBundleValidator (see bundle.go).
	Bundle *BundleValidator
	// ToolsDir holds the pinned Go tools; empty means <Root>/.cache/tools.
	ToolsDir string
	// Python finds the interpreters and remembers what they have; nil
	// means one with its disk cache in <Root>/.cache/python. Share one
	// across the checks of a run so each interpreter is asked once.
	Python *toolchain.Pythons
}

func (c Config) toolsDir() string {
	if c.ToolsDir != "" {
		return c.ToolsDir
	}
	return toolchain.ToolsDir(c.Root)
}

func (c Config) python() *toolchain.Pythons {
	if c.Python != nil {
		return c.Python
	}
	return toolchain.NewPythons(toolchain.PythonCacheDir(c.Root))
}

func (c Config) getenv(k string) string {
	if c.Getenv == nil {
		return os.Getenv(k)
	}
	return c.Getenv(k)
}

func (c Config) pythons() []string {
	if len(c.Pythons) > 0 {
		return c.Pythons
	}
	if v := SplitList(c.getenv("CI_PYTHON_VERSIONS")); len(v) > 0 {
		return v
	}
	return DefaultPythons
}

// SplitList splits a comma-separated list, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
