package pkgdb

import (
	"context"
	"testing"

	"driftd/baseline"
)

// BenchmarkPackageInventory reads this host's package databases and the
// owner of every listed path, as a bake of / does: the figure to add to
// a bake (which reads them while it walks).

func BenchmarkPackageInventory(b *testing.B) {
	var inv *baseline.Inventory
	var owners map[string]int
	for b.Loop() {
		var err error
		if inv, owners, err = ReadInventoryOwners(context.Background(), "/"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(inv.Packages)), "packages")
	b.ReportMetric(float64(len(owners)), "owned-paths")
}
