package baseline

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// testRules is one rule set shaped like the default: a general rule, then
// narrower rules and exceptions after it. The last match wins.
var testRules = []RuleConfig{
	{Paths: []string{"/**"}, Category: "system", Severity: "medium"},
	{Paths: []string{"/etc/**"}, Category: "config", Severity: "high"},
	{Paths: []string{"/usr/bin/**", "/usr/lib/**"}, Category: "binaries", Severity: "critical"},
	{Paths: []string{"/etc/ssh/**", "/home/*/.ssh/**", "/root/.ssh/**"}, Category: "ssh", Severity: "critical"},
	{Paths: []string{"/var/log/**", "/tmp/**", "/etc/*.bak", "/home/*/.cache/**"}, Ignore: true},
	{Paths: []string{"/var/log/secure"}, Category: "audit", Severity: "low"},
	{Paths: []string{"/opt/app/**/config.json"}, Category: "app", Severity: "high", Attributes: []string{"+inode"}},
	{Paths: []string{"/srv/data?"}, Category: "data", Severity: "info", Attributes: []string{"content", "mode"}},
}

func TestRuleWinner(t *testing.T) {
	rules, err := CompileRules(testRules)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path     string
		ignore   bool
		category string
		severity string
		pattern  string
	}{
		{"/", false, "system", "medium", "/**"},
		{"/boot/vmlinuz", false, "system", "medium", "/**"},
		{"/etc", false, "config", "high", "/etc/**"},
		{"/etc/passwd", false, "config", "high", "/etc/**"},
		{"/etc/ssh", false, "ssh", "critical", "/etc/ssh/**"},
		{"/etc/ssh/sshd_config", false, "ssh", "critical", "/etc/ssh/**"},
		{"/etc/ssh/sshd_config.d/10-x.conf", false, "ssh", "critical", "/etc/ssh/**"},
		{"/etc/sshd", false, "config", "high", "/etc/**"}, // not under /etc/ssh
		{"/etc/fstab.bak", true, "", "", "/etc/*.bak"},
		{"/etc/ssh/old.bak", false, "ssh", "critical", "/etc/ssh/**"}, // * stops at /
		{"/usr/bin/ls", false, "binaries", "critical", "/usr/bin/**"},
		{"/usr/lib/x86_64-linux-gnu/libc.so.6", false, "binaries", "critical", "/usr/lib/**"},
		{"/usr/share/doc/README", false, "system", "medium", "/**"},
		{"/home/alice/.ssh/authorized_keys", false, "ssh", "critical", "/home/*/.ssh/**"},
		{"/home/alice/.ssh", false, "ssh", "critical", "/home/*/.ssh/**"},
		{"/home/alice/projects/.ssh/x", false, "system", "medium", "/**"}, // * is one segment
		{"/home/alice/.cache/thumb", true, "", "", "/home/*/.cache/**"},
		{"/root/.ssh/authorized_keys", false, "ssh", "critical", "/root/.ssh/**"},
		{"/var/log", true, "", "", "/var/log/**"},
		{"/var/log/syslog", true, "", "", "/var/log/**"},
		{"/var/log/secure", false, "audit", "low", "/var/log/secure"}, // exception after the ignore
		{"/tmp/x/y", true, "", "", "/tmp/**"},
		{"/tmpfile", false, "system", "medium", "/**"},
		{"/opt/app/config.json", false, "app", "high", "/opt/app/**/config.json"}, // ** matches no directory
		{"/opt/app/a/b/config.json", false, "app", "high", "/opt/app/**/config.json"},
		{"/opt/app/a/config.json.old", false, "system", "medium", "/**"},
		{"/srv/data1", false, "data", "info", "/srv/data?"},
		{"/srv/data12", false, "system", "medium", "/**"},
		{"/srv/data/", false, "system", "medium", "/**"},    // ? never matches /
		{"/etc/\n\xff", false, "config", "high", "/etc/**"}, // raw bytes
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.path, "/", "_"), func(t *testing.T) {
			r := rules.Match(tt.path)
			if r.Ignore != tt.ignore || r.Category != tt.category || r.Pattern != tt.pattern ||
				(!tt.ignore && r.Severity.String() != tt.severity) {
				t.Errorf("Match(%q) = {pattern %q ignore %t category %q severity %s}, want {pattern %q ignore %t category %q severity %s}",
					tt.path, r.Pattern, r.Ignore, r.Category, r.Severity, tt.pattern, tt.ignore, tt.category, tt.severity)
			}
		})
	}
}

func TestRuleAttributes(t *testing.T) {
	rules, err := CompileRules(testRules)
	if err != nil {
		t.Fatal(err)
	}
	if got := rules.Match("/etc/passwd").Attrs; got != DefaultAttrs {
		t.Errorf("default attrs = %v, want %v", got.Names(), DefaultAttrs.Names())
	}
	if got := rules.Match("/opt/app/config.json").Attrs; got != DefaultAttrs|AttrInode {
		t.Errorf("+inode attrs = %v", got.Names())
	}
	if got := rules.Match("/srv/data1").Attrs; got != AttrType|AttrContent|AttrMode {
		t.Errorf("absolute attrs = %v, want type, content, mode", got.Names())
	}
}

func TestCanPrune(t *testing.T) {
	rules, err := CompileRules(testRules)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir  string
		want bool
	}{
		{"/tmp", true},
		{"/tmp/a", true},
		{"/var/log", false}, // /var/log/secure is back in scope
		{"/home/bob/.cache", true},
		{"/etc", false}, // not ignored at all
	}
	for _, tt := range tests {
		if got := rules.CanPrune(tt.dir, rules.Match(tt.dir)); got != tt.want {
			t.Errorf("CanPrune(%q) = %t, want %t", tt.dir, got, tt.want)
		}
	}
}

func TestCompileRulesErrors(t *testing.T) {
	tests := []struct {
		name string
		rule RuleConfig
		want string
	}{
		{"relative", RuleConfig{Paths: []string{"etc/**"}, Category: "c", Severity: "low"}, "not an absolute path"},
		{"no paths", RuleConfig{Category: "c", Severity: "low"}, "paths is empty"},
		{"no category", RuleConfig{Paths: []string{"/x"}, Severity: "low"}, "category is empty"},
		{"bad severity", RuleConfig{Paths: []string{"/x"}, Category: "c", Severity: "urgent"}, `unknown severity "urgent"`},
		{"bad attribute", RuleConfig{Paths: []string{"/x"}, Category: "c", Severity: "low", Attributes: []string{"colour"}}, `unknown attribute "colour"`},
		{"mixed attributes", RuleConfig{Paths: []string{"/x"}, Category: "c", Severity: "low", Attributes: []string{"+inode", "mode"}}, "mix"},
		{"triple star", RuleConfig{Paths: []string{"/x/***"}, Category: "c", Severity: "low"}, "***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileRules([]RuleConfig{tt.rule})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestFirstBootRules(t *testing.T) {
	rules, err := CompileRules([]RuleConfig{
		{Paths: []string{"/**"}, Category: "system", Severity: "medium"},
		{Paths: []string{"/etc/**"}, Category: "config", Severity: "high"},
		{Paths: []string{"/etc/hostname", "/home/*/.ssh/authorized_keys"}, FirstBoot: true}, // marks only
		{Paths: []string{"/etc/machine-id"}, FirstBoot: true, Category: "identity", Severity: "low"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/etc/hostname": "config first-boot", "/etc/machine-id": "identity first-boot",
		"/home/admin/.ssh/authorized_keys": "system first-boot", "/etc/passwd": "config",
	} {
		got := rules.Match(path).Category
		if rules.FirstBoot(path) {
			got += " first-boot"
		}
		if got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	plain, _ := CompileRules([]RuleConfig{{Paths: []string{"/**"}, Category: "system", Severity: "medium"}, {Paths: []string{"/etc/**"}, Category: "config", Severity: "high"}})
	if plain.Digest() == rules.Digest() || plain.HasFirstBoot() || !rules.HasFirstBoot() {
		t.Error("first_boot tables leave no trace in the digest")
	}
	fb := rules.FirstBootRules()
	if r := fb.Match("/etc/passwd"); !r.Ignore || fb.CanPrune("/usr", r) != true || fb.CanPrune("/home", fb.Match("/home")) {
		t.Error("the seal's rules do not keep the walk to the first-boot paths")
	}
}

// sealRules are rules whose first-boot paths are /etc/hostname, the
// files of /etc ending in -key, and /var/lib/cloud with all below it.
func sealRules(t *testing.T) *Rules {
	t.Helper()
	rules, err := CompileRules([]RuleConfig{
		{Paths: []string{"/**"}, Category: "c", Severity: "low"},
		{Paths: []string{"/etc/hostname", "/etc/*-key", "/var/lib/cloud/**"}, FirstBoot: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// TestSealedBase: the first-boot paths are the seal's, a "dir/**"
// pattern's dir too, and the rest the manifest's.
func TestSealedBase(t *testing.T) {
	e := func(p string, size int64) Entry { return Entry{Path: p, Type: TypeRegular, Size: size} }
	base := []Entry{e("/a", 1), e("/a/b-key", 1), e("/etc/hostname", 1), e("/etc/old-key", 1), e("/var/lib/cloud", 1), e("/var/lib/cloud/x", 1), e("/var/lib/cloudy", 1), e("/z", 1)}
	sealed := []Entry{e("/etc/hostname", 2), e("/etc/new-key", 2)} // nothing of /var/lib/cloud
	var got []string
	for _, x := range SealedBase(Pack(base), Pack(sealed), sealRules(t)).Entries() {
		got = append(got, fmt.Sprintf("%s:%d", x.Path, x.Size))
	}
	if want := "/a:1 /a/b-key:1 /etc/hostname:2 /etc/new-key:2 /var/lib/cloudy:1 /z:1"; strings.Join(got, " ") != want {
		t.Errorf("got %s, want %s", strings.Join(got, " "), want)
	}
	if base[1].Size != 1 {
		t.Error("SealedBase changed the baseline it was given")
	}
}

// TestCompareSealedBase: a comparison with the sealed view judges each
// first-boot path by the seal alone, and every other path by the
// manifest, for the whole tree and for a subtree.
func TestCompareSealedBase(t *testing.T) {
	e := func(p string, size int64) Entry { return Entry{Path: p, Type: TypeRegular, Size: size} }
	base := []Entry{e("/a", 1), e("/etc/gone-key", 1), e("/etc/hostname", 1), e("/etc/old-key", 1), e("/etc/passwd", 1), e("/z", 1)}
	sealed := []Entry{e("/etc/gone-key", 2), e("/etc/hostname", 2), e("/etc/new-key", 2)}
	rules := sealRules(t)
	// The host: /etc/hostname as sealed, /etc/old-key back (the seal had
	// none), /etc/new-key changed, /etc/gone-key gone, /z changed.
	observed := []Entry{e("/a", 1), e("/etc/hostname", 2), e("/etc/new-key", 3), e("/etc/old-key", 1), e("/etc/passwd", 1), e("/z", 9)}
	sb := SealedBase(Pack(base), Pack(sealed), rules)
	summary := func(res Result) string {
		var out []string
		for _, f := range res.Findings {
			out = append(out, f.Kind.String()+" "+f.Path)
		}
		return strings.Join(out, ", ")
	}
	want := "removed /etc/gone-key, modified /etc/new-key, added /etc/old-key, modified /z"
	if got := summary(Compare(sb, observed, rules)); got != want {
		t.Errorf("whole tree: %s\nwant %s", got, want)
	}
	c := NewScopedComparer(sb, rules, "/etc")
	for i := range observed {
		if strings.HasPrefix(observed[i].Path, "/etc/") {
			c.Observe(&observed[i])
		}
	}
	if got, want := summary(c.Result()), "removed /etc/gone-key, modified /etc/new-key, added /etc/old-key"; got != want {
		t.Errorf("/etc: %s\nwant %s", got, want)
	}
}

// TestMatchIndexAgreesWithScan: the indexed Match gives the rule a scan of
// every pattern, last to first, gives, over random overlapping patterns
// (literal, wildcard, "dir/**", "/a/**/b") and paths.
func TestMatchIndexAgreesWithScan(t *testing.T) {
	patSegs := []string{"a", "b", "etc", "ssh", "*", "**", "?", "x*", "*.conf", "a?"}
	pathSegs := []string{"a", "b", "etc", "ssh", "xy", "c.conf", "q", "ab"}
	r := rand.New(rand.NewPCG(1, 2))
	scan := func(rs *Rules, path string) *Rule {
		for i := len(rs.patterns) - 1; i >= 0; i-- {
			if rs.patterns[i].match(path) {
				return &rs.rules[i]
			}
		}
		return NoRule
	}
	checked := 0
	for round := 0; round < 300; round++ {
		var tables []RuleConfig
		for i := range 1 + r.IntN(12) {
			var segs []string
			for range 1 + r.IntN(4) {
				segs = append(segs, patSegs[r.IntN(len(patSegs))])
			}
			pat := "/" + strings.Join(segs, "/")
			if r.IntN(10) == 0 {
				pat = "/"
			}
			tables = append(tables, RuleConfig{Paths: []string{pat}, Category: fmt.Sprint(i), Severity: "low"})
		}
		rs, err := CompileRules(tables)
		if err != nil {
			continue // a pattern with ***
		}
		for range 200 {
			var segs []string
			for range r.IntN(6) {
				segs = append(segs, pathSegs[r.IntN(len(pathSegs))])
			}
			path := "/" + strings.Join(segs, "/")
			if got, want := rs.Match(path), scan(rs, path); got != want {
				t.Fatalf("patterns %v, path %s: index gives %q, a scan %q", tables, path, got.Pattern, want.Pattern)
			}
			checked++
		}
	}
	if checked < 40000 {
		t.Errorf("only %d paths checked", checked)
	}
}

// TestSuffixPatternAgreesWithRegexp: a "/**/*lit" pattern matches by the
// name's end, as its regexp does, over paths made to land on every edge.
func TestSuffixPatternAgreesWithRegexp(t *testing.T) {
	paths := []string{"/", "/.key", "/a.key", "/a/b.key", "/a/.key", "/key", "/a/key", "/a.key/b", "/a.keyx",
		"/etc/x.key", "/etc/.key", "/etc.key", "/etc", "/etc/", "/etc/a/b_key", "/etc/a\nb.key", "/x/_key", "/_key"}
	for _, glob := range []string{"/**/*.key", "/**/*_key", "/etc/**/*.key", "/etc/**/*_key"} {
		p, err := compilePattern(glob)
		if err != nil {
			t.Fatal(err)
		}
		if p.suffix == "" {
			t.Fatalf("%s: no suffix fast path", glob)
		}
		for _, path := range paths {
			want := strings.HasPrefix(path, p.prefix) && p.rest.MatchString(path[len(p.prefix):])
			if got := p.match(path); got != want {
				t.Errorf("%s on %q: %v, the regexp says %v", glob, path, got, want)
			}
		}
	}
}

// TestMatchDoesNotAllocate: Match runs for every path of every walk.
func TestMatchDoesNotAllocate(t *testing.T) {
	rs, err := CompileRules([]RuleConfig{
		{Paths: []string{"/**"}, Category: "system", Severity: "low"},
		{Paths: []string{"/etc/ssh/**", "/usr/*/x", "/home/*/.ssh/**"}, Category: "ssh", Severity: "critical"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { rs.Match("/usr/lib/x"); rs.Match("/etc/ssh"); rs.Match("/home/a/.ssh/k") }); n != 0 {
		t.Errorf("Match allocates %v times a run", n)
	}
}

// TestDiffPrefixes: the keeping patterns' literal prefixes, with the ones
// inside another left out and the not-keeping patterns ignored.
func TestDiffPrefixes(t *testing.T) {
	on, off := true, false
	for _, c := range []struct {
		keep, hide []string
		want       []string
	}{
		{keep: []string{"/etc/**", "/etc/ssh/*.conf", "/srv/*/app.conf", "/opt/app.toml"}, hide: []string{"/etc/shadow", "/**/*.key"},
			want: []string{"/etc", "/opt/app.toml", "/srv/"}},
		{keep: []string{"/etc/**", "/**/*.conf"}, want: []string{""}}, // everything
		{hide: []string{"/etc/**"}},
	} {
		tables := []RuleConfig{{Paths: []string{"/**"}, Category: "system", Severity: "low"}}
		if len(c.keep) > 0 {
			tables = append(tables, RuleConfig{Paths: c.keep, Diff: &on})
		}
		if len(c.hide) > 0 {
			tables = append(tables, RuleConfig{Paths: c.hide, Diff: &off})
		}
		rs, err := CompileRules(tables)
		if err != nil {
			t.Fatal(err)
		}
		if got := rs.DiffPrefixes(); !slices.Equal(got, c.want) {
			t.Errorf("keep %v hide %v: %q, want %q", c.keep, c.hide, got, c.want)
		}
	}
}
