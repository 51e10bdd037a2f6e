package pkgdb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"driftd/baseline"
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
	inv, err := ReadInventory(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := inv.State("rpm")
	if !ok || s.Status != baseline.NotInventoried || !strings.Contains(s.Reason, "rpm tool is not installed") {
		t.Errorf("rpm state %+v: want not inventoried, saying why", s)
	}

	// A check of such a bake says so, and compares no rpm packages.
	base := &baseline.Manifest{Header: baseline.Header{PackageManagers: inv.Managers}}
	live := &baseline.Inventory{Managers: []baseline.ManagerState{{Manager: "rpm", Status: baseline.Inventoried}}, Packages: []baseline.Package{{Manager: "rpm", Name: "x", Version: "1"}}}
	if f := baseline.ComparePackages(base, live); len(f) != 0 {
		t.Errorf("findings %v against a database the bake did not read", f)
	}
	unverified, warnings := baseline.PackageNotes(base, live)
	if len(unverified) != 0 || len(warnings) != 1 || !strings.Contains(warnings[0], "rpm packages not compared") {
		t.Errorf("notes: unverified %q, warnings %q", unverified, warnings)
	}
	// The other way round: baked, but unreadable now, is unverified.
	unverified, _ = baseline.PackageNotes(&baseline.Manifest{Header: baseline.Header{PackageManagers: live.Managers}}, inv)
	if len(unverified) != 1 || !strings.Contains(unverified[0], "rpm packages not verified") {
		t.Errorf("unverified %q", unverified)
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
	inv, err := ReadInventory(context.Background(), root)
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
