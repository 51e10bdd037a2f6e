package baseline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseDpkgStatus(t *testing.T) {
	status := "Package: a\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\nConffiles:\n /etc/a.conf 0123456789abcdef0123456789abcdef\n /etc/old.conf 0123456789abcdef0123456789abcdef obsolete\nDescription: one\n two\n\n" +
		"Package: gone\nStatus: deinstall ok config-files\nVersion: 2.0\nArchitecture: all\n\n" +
		"Package: b\nStatus: install ok unpacked\nVersion: 1:2.3-4\nArchitecture: all\nMulti-Arch: same\n"
	pkgs, err := parseDpkgStatus([]byte(status), "status", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 2 || pkgs[0].Name != "a" || pkgs[1].Name != "b" || pkgs[1].Version != "1:2.3-4" || !pkgs[1].multiArch {
		t.Fatalf("packages %+v: want a and b (gone has only its config files left)", pkgs)
	}
	if c := pkgs[0].conffiles; len(c) != 2 || c[0].Path != "/etc/a.conf" || c[0].Algo != "md5" || len(c[0].Digest) != 16 {
		t.Errorf("conffiles %+v", c)
	}
	for _, bad := range []string{" continued\nPackage: x\n", "Package: x\nno colon here\n", "Package: x\nStatus: install ok installed\n"} {
		_, err := parseDpkgStatus([]byte(bad), "/r/var/lib/dpkg/status", false)
		if err == nil || !strings.Contains(err.Error(), "/r/var/lib/dpkg/status: paragraph 1") {
			t.Errorf("status %q: error %v, want one naming the file and paragraph", bad, err)
		}
	}
}

func TestRpmWithoutTheTool(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "var/lib/rpm"), 0o755)
	os.WriteFile(filepath.Join(root, "var/lib/rpm/rpmdb.sqlite"), []byte("not read"), 0o644)
	t.Setenv("PATH", t.TempDir())
	inv, err := ReadInventory(root)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := inv.State("rpm")
	if !ok || s.Status != NotInventoried || !strings.Contains(s.Reason, "rpm tool is not installed") {
		t.Errorf("rpm state %+v: want not inventoried, saying why", s)
	}

	// A check of such a bake says so, and compares no rpm packages.
	base := &Manifest{Header: Header{PackageManagers: inv.Managers}}
	live := &Inventory{Managers: []ManagerState{{Manager: "rpm", Status: Inventoried}}, Packages: []Package{{Manager: "rpm", Name: "x", Version: "1"}}}
	if f := ComparePackages(base, live); len(f) != 0 {
		t.Errorf("findings %v against a database the bake did not read", f)
	}
	unverified, warnings := PackageNotes(base, live)
	if len(unverified) != 0 || len(warnings) != 1 || !strings.Contains(warnings[0], "rpm packages not compared") {
		t.Errorf("notes: unverified %q, warnings %q", unverified, warnings)
	}
	// The other way round: baked, but unreadable now, is unverified.
	unverified, _ = PackageNotes(&Manifest{Header: Header{PackageManagers: live.Managers}}, inv)
	if len(unverified) != 1 || !strings.Contains(unverified[0], "rpm packages not verified") {
		t.Errorf("unverified %q", unverified)
	}
}

func TestComparePackages(t *testing.T) {
	pkg := func(m, n, v string) Package { return Package{Manager: m, Name: n, Version: v, Arch: "amd64"} }
	base := &Manifest{
		Header:   Header{PackageManagers: []ManagerState{{Manager: "dpkg", Status: Inventoried}, {Manager: "apk", Status: Inventoried}}},
		Packages: []Package{pkg("apk", "musl", "1"), pkg("dpkg", "a", "1"), pkg("dpkg", "b", "1")},
	}
	// The apk database is gone: its packages are removed.
	live := &Inventory{Managers: []ManagerState{{Manager: "dpkg", Status: Inventoried}}, Packages: []Package{pkg("dpkg", "a", "2"), pkg("dpkg", "c", "1")}}
	var got []string
	for _, f := range ComparePackages(base, live) {
		got = append(got, f.Change()+" "+f.Package().Key()+" "+f.Before.Version+">"+f.After.Version)
	}
	want := "removed apk/musl:amd64 1>|changed dpkg/a:amd64 1>2|removed dpkg/b:amd64 1>|added dpkg/c:amd64 >1"
	if strings.Join(got, "|") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, "|"), want)
	}
}

func TestCanonicalizer(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755)
	os.Symlink("usr/bin", filepath.Join(root, "bin"))
	os.Symlink("/etc/passwd", filepath.Join(root, "escape")) // absolute, outside /usr: not followed
	c := newCanonicalizer(root)
	for in, want := range map[string]string{"/bin/ls": "/usr/bin/ls", "/bin": "/usr/bin", "/binary": "/binary", "/escape/x": "/escape/x", "/usr/bin/ls": "/usr/bin/ls"} {
		if got := c.path(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestExplainRestoredFinding(t *testing.T) {
	base := &Manifest{Packages: []Package{{Manager: "dpkg", Name: "a", Version: "1"}}}
	x, err := NewExplainer(t.TempDir(), base, []PackageFinding{{Kind: Removed, Before: base.Packages[0]}})
	if err != nil {
		t.Fatal(err)
	}
	f := Finding{Path: "/x", Kind: Removed} // known only by path, as restored from the state
	x.Explain(&f)
	if f.ByHand || f.ExplainedBy != nil {
		t.Errorf("a finding known only by path was judged: %+v", f)
	}
	f = Finding{Path: "/etc/x", Kind: Modified, Before: &Entry{Path: "/etc/x", Type: TypeRegular}, After: &Entry{Path: "/etc/x", Type: TypeRegular}}
	x.Explain(&f)
	if !f.ByHand {
		t.Errorf("a change no package accounts for is not by hand: %+v", f)
	}
}

// TestDpkgJournal: entries in updates/ supersede the status file, as
// dpkg-query reads them: an upgrade, a removal, a new package.
func TestDpkgJournal(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "var/lib/dpkg/updates"), 0o755)
	status := "Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n\n" +
		"Package: b\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n"
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), []byte(status), 0o644)
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/updates/0000"), []byte("Package: a\nStatus: install ok installed\nVersion: 2\nArchitecture: all\n"), 0o644)
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/updates/0001"), []byte("Package: b\nStatus: purge ok not-installed\nArchitecture: all\n"), 0o644)
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/updates/0002"), []byte("Package: c\nStatus: install ok unpacked\nVersion: 1\nArchitecture: all\n"), 0o644)
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/updates/tmp.i"), []byte("garbage"), 0o644)
	inv, err := ReadInventory(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range inv.Packages {
		got = append(got, p.Name+"="+p.Version)
	}
	if strings.Join(got, " ") != "a=2 c=1" {
		t.Errorf("packages %q, want a=2 c=1", got)
	}
}
