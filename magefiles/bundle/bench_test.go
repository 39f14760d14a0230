package bundle

import (
	"path/filepath"
	"testing"
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
