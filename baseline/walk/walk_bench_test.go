package walk

import (
	"context"
	"os"
	"testing"

	"driftd/baseline"
)

// BenchmarkWalk walks and hashes a real tree: DRIFTD_BENCH_ROOT, or /usr.
func BenchmarkWalk(b *testing.B) {
	root := os.Getenv("DRIFTD_BENCH_ROOT")
	if root == "" {
		root = "/usr"
	}
	rules, err := baseline.CompileRules([]baseline.RuleConfig{{Paths: []string{"/**"}, Category: "system", Severity: "high"}})
	if err != nil {
		b.Fatal(err)
	}
	var bytes int64
	for b.Loop() {
		p := &Progress{}
		w := &Walker{Root: root, Rules: rules, Workers: 2, Progress: p}
		if _, err := w.Walk(context.Background()); err != nil {
			b.Fatal(err)
		}
		bytes = p.Bytes.Load()
	}
	b.SetBytes(bytes)
}
