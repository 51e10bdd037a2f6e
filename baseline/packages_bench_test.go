package baseline

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkPackageInventory reads this host's package databases and the
// owner of every listed path, as a bake of / does: the figure to add to
// a bake (which reads them while it walks).
func BenchmarkPackageInventory(b *testing.B) {
	var inv *Inventory
	var owners map[string]int
	for b.Loop() {
		var err error
		if inv, err = ReadInventory("/"); err != nil {
			b.Fatal(err)
		}
		if owners, err = Owners("/", inv); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(inv.Packages)), "packages")
	b.ReportMetric(float64(len(owners)), "owned-paths")
}

// BenchmarkMatchWithSSHPaths matches every path of a real tree (/usr, or
// DRIFTD_BENCH_ROOT) against the default-like rules, then against them
// plus the SSH paths derived from this host: the cost of the derived
// rules, which come last and so are tried first.
func BenchmarkMatchWithSSHPaths(b *testing.B) {
	root := os.Getenv("DRIFTD_BENCH_ROOT")
	if root == "" {
		root = "/usr"
	}
	var paths []string
	filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err == nil {
			paths = append(paths, "/usr"+p[len(root):])
		}
		return nil
	})
	rules, err := CompileRules([]RuleConfig{
		{Paths: []string{"/**"}, Category: "system", Severity: "medium"},
		{Paths: []string{"/etc/**"}, Category: "config", Severity: "high"},
		{Paths: []string{"/usr/bin/**", "/usr/sbin/**", "/usr/lib/**"}, Category: "binaries", Severity: "critical"},
		{Paths: []string{"/proc/**", "/sys/**", "/tmp/**", "/var/log/**"}, Ignore: true},
	})
	if err != nil {
		b.Fatal(err)
	}
	ssh := SSHPaths("/")
	withSSH, err := rules.WithSSH(ssh)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		rules *Rules
	}{{"config-rules", rules}, {"with-ssh-paths", withSSH}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				for _, p := range paths {
					c.rules.Match(p)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(paths)), "ns/path")
			b.ReportMetric(float64(len(ssh)), "ssh-patterns")
		})
	}
}
