package baseline

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// BenchmarkMatch matches every path of a real tree (/usr, or
// DRIFTD_BENCH_ROOT) against the default config's rules, alone and with
// the SSH paths derived from this host (which come last), with the index
// and with a plain scan of every pattern, last to first, as Match did
// before the index.
func BenchmarkMatch(b *testing.B) {
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
	var cfg struct {
		Rules []RuleConfig `toml:"rule"`
	}
	if _, err := toml.DecodeFile("../packaging/driftd.toml", &cfg); err != nil {
		b.Fatal(err)
	}
	rules, err := CompileRules(cfg.Rules)
	if err != nil {
		b.Fatal(err)
	}
	ssh := hostSSHPatterns(b)
	withSSH, err := rules.WithSSH(ssh)
	if err != nil {
		b.Fatal(err)
	}
	scan := func(rs *Rules, path string) *Rule {
		for i := len(rs.patterns) - 1; i >= 0; i-- {
			if rs.patterns[i].match(path) {
				return &rs.rules[i]
			}
		}
		return NoRule
	}
	for _, c := range []struct {
		name  string
		rules *Rules
	}{{"default-rules", rules}, {"with-ssh-paths", withSSH}} {
		b.Run(c.name+"/index", func(b *testing.B) {
			for b.Loop() {
				for _, p := range paths {
					c.rules.Match(p)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(paths)), "ns/path")
			b.ReportMetric(float64(len(c.rules.patterns)), "patterns")
		})
		b.Run(c.name+"/scan", func(b *testing.B) {
			for b.Loop() {
				for _, p := range paths {
					scan(c.rules, p)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(paths)), "ns/path")
			b.ReportMetric(float64(len(c.rules.patterns)), "patterns")
		})
	}
}

// hostSSHPatterns are the SSH patterns sshpaths.Derive gives for this
// host's users (the package cannot be imported here: it imports this one).
func hostSSHPatterns(b *testing.B) []string {
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		b.Fatal(err)
	}
	out := []string{"/etc/ssh/**", "/etc/pam.d/sshd", "/etc/hosts.equiv", "/etc/shosts.equiv", "/etc/ssh/sshd_config"}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Split(line, ":"); len(f) >= 6 && strings.HasPrefix(f[5], "/") {
			out = append(out, path.Join(f[5], ".ssh")+"/**", path.Join(f[5], ".rhosts"), path.Join(f[5], ".shosts"))
		}
	}
	return CanonicalPatterns(out)
}
