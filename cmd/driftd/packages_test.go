package main

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"driftd/reporter"
)

// packageTool installs and removes test packages in a root with a real
// package manager (or, for apk, writes its database as apk would).
type packageTool interface {
	manager() string
	// version is how the manager writes a test package's version.
	version(v string) string
	// install installs or upgrades name at version v with the given files
	// (root-relative path: content).
	install(t *testing.T, name, v string, files map[string]string)
	remove(t *testing.T, name string)
}

// packageRoot is a root to bake and check with packages in it.
type packageRoot struct {
	dir, root, config, key, pub, manifest string
}

func newPackageRoot(t *testing.T) *packageRoot {
	dir := t.TempDir()
	p := &packageRoot{dir: dir, root: filepath.Join(dir, "root"), config: filepath.Join(dir, "driftd.toml"),
		key: filepath.Join(dir, "k.key"), pub: filepath.Join(dir, "k.pub"), manifest: filepath.Join(dir, "baseline.manifest")}
	if err := os.MkdirAll(filepath.Join(p.root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.config, []byte(testConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := driftd(t, nil, "keygen", "--out", filepath.Join(dir, "k")); r.code != 0 {
		t.Fatalf("keygen: %v", r)
	}
	return p
}

func (p *packageRoot) write(t *testing.T, name, content string) {
	t.Helper()
	full := filepath.Join(p.root, name)
	os.MkdirAll(filepath.Dir(full), 0o755)
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// testPackageScenario installs two packages, bakes, then upgrades one,
// removes one, adds one, and edits two files by hand: one that the
// upgraded package owns and one that no package owns. The check must tell
// each package change, explain each file change a package made, and mark
// exactly the two hand edits.
func testPackageScenario(t *testing.T, p *packageRoot, tool packageTool) {
	tool.install(t, "hello", "1.0", map[string]string{"usr/share/hello/greeting": "v1\n", "usr/share/hello/extra": "extra v1\n"})
	tool.install(t, "gone", "1.0", map[string]string{"usr/share/gone/file": "gone\n"})
	p.write(t, "etc/handmade", "one\n")
	if r := driftd(t, nil, "bake", "--config", p.config, "--root", p.root, "--key", p.key, "--out", p.manifest); r.code != 0 {
		t.Fatalf("bake: %v", r)
	}
	if r := driftd(t, nil, "check", "--config", p.config, "--root", p.root, "--baseline", p.manifest, "--pubkey", p.pub); r.code != 0 {
		t.Fatalf("check right after bake: %v", r)
	}

	tool.install(t, "hello", "2.0", map[string]string{"usr/share/hello/greeting": "v2\n", "usr/share/hello/extra": "extra v2\n"})
	tool.remove(t, "gone")
	tool.install(t, "fresh", "1.0", map[string]string{"usr/share/fresh/file": "fresh\n"})
	p.write(t, "usr/share/hello/extra", "edited by hand\n")
	p.write(t, "etc/handmade", "two\n")

	textfile := filepath.Join(p.dir, "driftd.prom")
	r := driftd(t, nil, "check", "--config", p.config, "--root", p.root, "--baseline", p.manifest, "--pubkey", p.pub,
		"--format", "json", "--textfile", textfile)
	if r.code != 1 {
		t.Fatalf("check after the package changes: want exit 1 (drift): %v", r)
	}
	rep := checkJSON(t, r)

	m := tool.manager()
	v1, v2 := tool.version("1.0"), tool.version("2.0")
	var pkgs []string
	for _, x := range rep["packages"].([]any) {
		f := x.(map[string]any)
		if f["manager"] != m || f["category"] != "package" || f["severity"] != "high" {
			t.Errorf("package finding %v: want manager %s, category package, severity high", f, m)
		}
		pkgs = append(pkgs, fmt.Sprintf("%s %s %v>%v", f["change"], f["name"], f["before"], f["after"]))
	}
	want := []string{
		fmt.Sprintf("added fresh <nil>>%s", v1),
		fmt.Sprintf("removed gone %s><nil>", v1),
		fmt.Sprintf("changed hello %s>%s", v1, v2),
	}
	if !slices.Equal(pkgs, want) {
		t.Errorf("package findings:\n got %q\nwant %q", pkgs, want)
	}

	findings := map[string]map[string]any{}
	var byHand []string
	for _, x := range rep["findings"].([]any) {
		f := x.(map[string]any)
		path := f["path"].(string)
		findings[path] = f
		switch {
		case f["by_hand"] == true:
			byHand = append(byHand, path)
		case f["explained_by"] == nil:
			t.Errorf("%s: neither explained nor by hand: %v", path, f)
		}
	}
	if want := []string{"/etc/handmade", "/usr/share/hello/extra"}; !slices.Equal(byHand, want) {
		t.Errorf("changed by hand: got %q, want %q (all findings: %q)", byHand, want, slices.Sorted(maps.Keys(findings)))
	}
	explained := func(path, kind, pkg, before, after string) {
		t.Helper()
		f := findings[path]
		if f == nil {
			t.Errorf("%s: no finding", path)
			return
		}
		e, _ := f["explained_by"].(map[string]any)
		got := fmt.Sprintf("%v %v by %v %v %v>%v", f["kind"], f["package"], e["manager"], e["package"], e["before"], e["after"])
		want := fmt.Sprintf("%s %s by %s %s %v>%v", kind, pkg, m, pkg, orNil(before), orNil(after))
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", path, got, want)
		}
	}
	explained("/usr/share/hello/greeting", "modified", "hello", v1, v2)
	explained("/usr/share/gone/file", "removed", "gone", v1, "")
	explained("/usr/share/fresh/file", "added", "fresh", "", v1)
	if f := findings["/usr/share/hello/extra"]; f == nil || f["package"] != "hello" {
		t.Errorf("the hand-edited file of hello: want package hello: %v", f)
	}
	if f := findings["/etc/handmade"]; f == nil || f["package"] != nil {
		t.Errorf("the hand-edited file no package owns: want no package: %v", f)
	}

	prom, err := os.ReadFile(textfile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{`driftd_package_drift{change="added"} 1`, `driftd_package_drift{change="removed"} 1`, `driftd_package_drift{change="changed"} 1`} {
		if !strings.Contains(string(prom), line+"\n") {
			t.Errorf("textfile lacks %q:\n%s", line, prom)
		}
	}
}

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// TestPackagesDpkg runs the scenario on a copy of this machine's dpkg
// database, with packages the test builds with dpkg-deb and installs with
// dpkg --root.
func TestPackagesDpkg(t *testing.T) {
	p := newPackageRoot(t)
	if err := os.MkdirAll(filepath.Join(p.root, "var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	runTool(t, "cp", "-a", "/var/lib/dpkg", filepath.Join(p.root, "var/lib/dpkg"))
	testPackageScenario(t, p, &dpkgTool{root: p.root, dir: t.TempDir()})

	// The manifest has every package of the copy of this machine's
	// database, as dpkg itself counts them (the bake saw gone, which was
	// replaced by fresh since: the count is the same).
	show := driftd(t, nil, "show", p.manifest, "--format", "json")
	if n, want := strings.Count(show.stdout, `"manager":"dpkg","name"`), dpkgInstalled(t, filepath.Join(p.root, "var/lib/dpkg")); n != want || n < 100 {
		t.Errorf("manifest lists %d dpkg packages, dpkg-query %d", n, want)
	}
}

// dpkgInstalled counts the packages a dpkg database has on disk (installed
// or part way), as dpkg-query reads it: not those with only their config
// files left. A copy of the database is asked, not this machine's, which
// another test may be installing into meanwhile.
func dpkgInstalled(t *testing.T, admindir string) int {
	t.Helper()
	out, err := exec.Command("dpkg-query", "--admindir="+admindir, "-W", "-f", "${db:Status-Status}\n").Output()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, st := range strings.Fields(string(out)) {
		if st != "not-installed" && st != "config-files" {
			n++
		}
	}
	return n
}

type dpkgTool struct{ root, dir string }

func (d *dpkgTool) manager() string         { return "dpkg" }
func (d *dpkgTool) version(v string) string { return v }

func (d *dpkgTool) install(t *testing.T, name, v string, files map[string]string) {
	t.Helper()
	build := filepath.Join(d.dir, name+"-"+v)
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: driftd tests <test@example.com>\nDescription: a driftd test package\n", name, v)
	writeTree(t, build, map[string]string{"DEBIAN/control": control})
	writeTree(t, build, files)
	deb := build + ".deb"
	runTool(t, "dpkg-deb", "--build", "--root-owner-group", build, deb)
	runTool(t, "dpkg", "--root="+d.root, "-i", deb)
}

func (d *dpkgTool) remove(t *testing.T, name string) {
	runTool(t, "dpkg", "--root="+d.root, "--purge", name)
}

// TestPackagesRpm runs the scenario on an rpm database made by the real rpm
// tool, with packages the test builds with rpmbuild.
func TestPackagesRpm(t *testing.T) {
	p := newPackageRoot(t)
	r := &rpmTool{root: p.root, top: t.TempDir()}
	runTool(t, "rpm", "--root", p.root, "--dbpath", "/var/lib/rpm", "--initdb")
	testPackageScenario(t, p, r)
}

type rpmTool struct{ root, top string }

func (r *rpmTool) manager() string         { return "rpm" }
func (r *rpmTool) version(v string) string { return v + "-1" }

func (r *rpmTool) install(t *testing.T, name, v string, files map[string]string) {
	t.Helper()
	var install strings.Builder
	dirs := map[string]bool{}
	for _, f := range slices.Sorted(maps.Keys(files)) {
		dir := filepath.Dir(f)
		dirs["/"+dir] = true
		fmt.Fprintf(&install, "mkdir -p %%{buildroot}/%s\nprintf '%%s' '%s' > %%{buildroot}/%s\n", dir, files[f], f)
	}
	spec := fmt.Sprintf(`Name: %s
Version: %s
Release: 1
Summary: a driftd test package
License: MIT
BuildArch: noarch
%%description
a driftd test package
%%install
%s
%%files
%s
`, name, v, install.String(), strings.Join(slices.Sorted(maps.Keys(dirs)), "\n"))
	specPath := filepath.Join(r.top, name+"-"+v+".spec")
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	runTool(t, "rpmbuild", "--quiet", "-bb", "--define", "_topdir "+r.top, "--define", "_dbpath "+filepath.Join(r.top, "db"), specPath)
	rpm := filepath.Join(r.top, "RPMS/noarch", fmt.Sprintf("%s-%s-1.noarch.rpm", name, v))
	runTool(t, "rpm", "--root", r.root, "--dbpath", "/var/lib/rpm", "-U", "--nodeps", rpm)
}

func (r *rpmTool) remove(t *testing.T, name string) {
	runTool(t, "rpm", "--root", r.root, "--dbpath", "/var/lib/rpm", "-e", "--nodeps", name)
}

// TestPackagesApk runs the scenario on an apk database fixture: no apk tool
// runs here, so the test writes lib/apk/db/installed the way apk does
// (F: directory, R: file, Z: "Q1" and the base64 SHA-1 of its content).
func TestPackagesApk(t *testing.T) {
	p := newPackageRoot(t)
	testPackageScenario(t, p, &apkTool{root: p.root, installed: map[string]apkPackage{}})
}

type apkPackage struct {
	version string
	files   map[string]string
}

type apkTool struct {
	root      string
	installed map[string]apkPackage
}

func (a *apkTool) manager() string         { return "apk" }
func (a *apkTool) version(v string) string { return v + "-r0" }

func (a *apkTool) install(t *testing.T, name, v string, files map[string]string) {
	t.Helper()
	if old, ok := a.installed[name]; ok {
		a.removeFiles(old)
	}
	writeTree(t, a.root, files)
	a.installed[name] = apkPackage{version: a.version(v), files: files}
	a.writeDB(t)
}

func (a *apkTool) remove(t *testing.T, name string) {
	a.removeFiles(a.installed[name])
	delete(a.installed, name)
	a.writeDB(t)
}

func (a *apkTool) removeFiles(p apkPackage) {
	for f := range p.files {
		os.Remove(filepath.Join(a.root, f))
		os.Remove(filepath.Join(a.root, filepath.Dir(f))) // apk removes a directory it emptied
	}
}

func (a *apkTool) writeDB(t *testing.T) {
	t.Helper()
	var db strings.Builder
	for _, name := range slices.Sorted(maps.Keys(a.installed)) {
		p := a.installed[name]
		fmt.Fprintf(&db, "C:Q1%s\nP:%s\nV:%s\nA:x86_64\nS:100\nI:100\nT:a driftd test package\nU:https://example.com\nL:MIT\n",
			apkSum(name+p.version), name, p.version)
		dir := ""
		for _, f := range slices.Sorted(maps.Keys(p.files)) {
			if d := filepath.Dir(f); d != dir {
				dir = d
				fmt.Fprintf(&db, "F:%s\n", d)
			}
			fmt.Fprintf(&db, "R:%s\na:0:0:644\nZ:Q1%s\n", filepath.Base(f), apkSum(p.files[f]))
		}
		db.WriteString("\n")
	}
	writeTree(t, a.root, map[string]string{"lib/apk/db/installed": db.String()})
}

func apkSum(content string) string {
	s := sha1.Sum([]byte(content))
	return base64.StdEncoding.EncodeToString(s[:])
}

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestDaemonPackages upgrades a package under a running daemon: the
// package drift shows within seconds, in the local API, the events and
// the metrics, and the file the upgrade replaced is explained by it.
func TestDaemonPackages(t *testing.T) {
	p := newPackageRoot(t)
	// policy.packages: package drift taints, whatever its severity.
	if err := os.WriteFile(p.config, []byte(daemonConfig("[policy]\npackages = true\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(p.root, "var/lib"), 0o755)
	runTool(t, "cp", "-a", "/var/lib/dpkg", filepath.Join(p.root, "var/lib/dpkg"))
	tool := &dpkgTool{root: p.root, dir: t.TempDir()}
	tool.install(t, "hello", "1.0", map[string]string{"usr/share/hello/greeting": "v1\n"})
	if r := driftd(t, nil, "bake", "--config", p.config, "--root", p.root, "--key", p.key, "--out", p.manifest); r.code != 0 {
		t.Fatalf("bake: %v", r)
	}
	f := &fixture{dir: p.dir, root: p.root, config: p.config, key: p.key, pub: p.pub, manifest: p.manifest}
	state := t.TempDir()
	d := startDaemon(t, f, state, "--baseline", p.manifest)
	if s, _ := d.status(); s.Status != reporter.StatusClean {
		t.Fatalf("before the upgrade: %s\n%s", s.Status, d.logs())
	}
	if m := grepMetrics(d.metrics(), "driftd_package_drift"); !strings.Contains(m, `driftd_package_drift{change="changed"} 0`) {
		t.Errorf("before the upgrade, driftd_package_drift:\n%s", m)
	}

	start := time.Now()
	tool.install(t, "hello", "2.0", map[string]string{"usr/share/hello/greeting": "v2\n"})
	d.eventually(10*time.Second, "the upgrade of hello shows as package drift", func() bool {
		s, _ := d.status()
		return len(s.Packages) == 1 && s.Packages[0].Name == "hello" && s.Packages[0].Before == "1.0" && s.Packages[0].After == "2.0"
	})
	t.Logf("package drift reported %v after dpkg -i returned", time.Since(start).Round(time.Millisecond))
	d.eventually(5*time.Second, "the replaced file is explained by the upgrade", func() bool {
		s, _ := d.status()
		for _, f := range s.Findings {
			if f.Path == "/usr/share/hello/greeting" {
				return f.ExplainedBy != nil && f.ExplainedBy.Package == "hello" && f.ExplainedBy.After == "2.0" && !f.ByHand
			}
		}
		return false
	})
	if s, r := d.status(); s.Status != reporter.StatusDrift || r.code != 1 {
		t.Errorf("status %s, exit %d: want drift, 1", s.Status, r.code)
	}
	if m := grepMetrics(d.metrics(), "driftd_package_drift"); !strings.Contains(m, `driftd_package_drift{change="changed"} 1`) {
		t.Errorf("after the upgrade, driftd_package_drift:\n%s", m)
	}
	if ev := d.events(); !strings.Contains(ev, `"msg":"drift","kind":"modified","category":"package","severity":"high","manager":"dpkg","package":"hello"`) {
		t.Errorf("no package drift event:\n%s", ev)
	}
	if s, _ := d.status(); !s.Taint.Tainted || s.Taint.Trigger == nil || s.Taint.Trigger.Event != "package" || s.Taint.Trigger.Package != "hello" {
		t.Errorf("taint %+v: want tripped by the package hello (policy.packages)", s.Taint)
	}

	// A restart announces neither the package nor the file again, and
	// exports the package drift from the first scrape.
	d.awaitScan("fast") // the state is saved on stop with what the loop holds
	d.stop()
	d = startDaemon(t, f, state, "--baseline", p.manifest)
	if m := grepMetrics(d.metrics(), "driftd_package_drift"); !strings.Contains(m, `driftd_package_drift{change="changed"} 1`) {
		t.Errorf("after the restart, driftd_package_drift:\n%s", m)
	}
	d.awaitScan("fast")
	if s, _ := d.status(); len(s.Packages) != 1 || s.Status != reporter.StatusDrift {
		t.Errorf("after the restart: %s, packages %+v", s.Status, s.Packages)
	}
	if ev := d.events(); strings.Contains(ev, `"msg":"drift"`) || strings.Contains(ev, `"msg":"changed"`) {
		t.Errorf("the restart announced drift again:\n%s", ev)
	}
}

// TestPackagesBadDatabase: a package database that cannot be parsed stops
// a bake with one line naming the file, and makes a check unverified,
// never clean.
func TestPackagesBadDatabase(t *testing.T) {
	p := newPackageRoot(t)
	tool := &apkTool{root: p.root, installed: map[string]apkPackage{}}
	tool.install(t, "musl", "1.2.4", map[string]string{"lib/libc.so": "libc\n"})
	if r := driftd(t, nil, "bake", "--config", p.config, "--root", p.root, "--key", p.key, "--out", p.manifest); r.code != 0 {
		t.Fatalf("bake: %v", r)
	}
	db := filepath.Join(p.root, "lib/apk/db/installed")
	good, _ := os.ReadFile(db)
	if err := os.WriteFile(db, append([]byte("garbage line\n"), good...), 0o644); err != nil {
		t.Fatal(err)
	}
	r := driftd(t, nil, "check", "--config", p.config, "--root", p.root, "--baseline", p.manifest, "--pubkey", p.pub, "--format", "json")
	if r.code != 2 {
		t.Fatalf("check with a corrupt apk database: want exit 2: %v", r)
	}
	rep := checkJSON(t, r)
	if rep["status"] != "unverified" || !strings.Contains(fmt.Sprint(rep["packages_unverified"]), db+": line 1") {
		t.Errorf("status %v, packages_unverified %v: want unverified, naming %s", rep["status"], rep["packages_unverified"], db)
	}

	r = driftd(t, nil, "bake", "--config", p.config, "--root", p.root, "--key", p.key, "--out", filepath.Join(p.dir, "again.manifest"))
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != 2 || len(lines) != 1 || !strings.Contains(lines[0], db) || !strings.Contains(lines[0], "line 1") {
		t.Errorf("bake with a corrupt apk database: want exit 2 and one line naming %s: %v", db, r)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "again.manifest")); err == nil {
		t.Error("a manifest was written despite the error")
	}
}

// TestPackagesRpmNotInventoried: an image with an rpm database, baked where
// the rpm tool is missing, records that rpm was not inventoried; the bake
// and every check say so.
func TestPackagesRpmNotInventoried(t *testing.T) {
	p := newPackageRoot(t)
	runTool(t, "rpm", "--root", p.root, "--dbpath", "/var/lib/rpm", "--initdb")
	(&rpmTool{root: p.root, top: t.TempDir()}).install(t, "hello", "1.0", map[string]string{"usr/share/hello/greeting": "v1\n"})
	noRpm := []string{"PATH=" + t.TempDir()}
	r := driftd(t, noRpm, "bake", "--config", p.config, "--root", p.root, "--key", p.key, "--out", p.manifest)
	if r.code != 0 || !strings.Contains(r.stderr, "warning: the rpm database was not inventoried: the rpm tool is not installed") {
		t.Fatalf("bake without rpm: %v", r)
	}
	if show := driftd(t, nil, "show", p.manifest); !strings.Contains(show.stdout, "packages rpm: not_inventoried, 0 packages (the rpm database was not inventoried") {
		t.Errorf("show does not say rpm was not inventoried:\n%s", show.stdout)
	}
	r = driftd(t, nil, "check", "--config", p.config, "--root", p.root, "--baseline", p.manifest, "--pubkey", p.pub)
	if r.code != 0 || !strings.Contains(r.stdout, "warning: rpm packages not compared: at bake time, the rpm database was not inventoried") {
		t.Errorf("check of a bake without rpm: %v", r)
	}
}

// TestDiffPackages: driftd diff of two images lists their package changes
// with both versions.
func TestDiffPackages(t *testing.T) {
	p := newPackageRoot(t)
	tool := &apkTool{root: p.root, installed: map[string]apkPackage{}}
	tool.install(t, "musl", "1.2.4", map[string]string{"lib/libc.so": "libc 1.2.4\n"})
	tool.install(t, "busybox", "1.36", map[string]string{"bin/busybox": "busybox\n"})
	old := filepath.Join(p.dir, "old.manifest")
	if r := driftd(t, nil, "bake", "--config", p.config, "--root", p.root, "--key", p.key, "--out", old); r.code != 0 {
		t.Fatal(r)
	}
	tool.install(t, "musl", "1.2.5", map[string]string{"lib/libc.so": "libc 1.2.5\n"})
	tool.remove(t, "busybox")
	if r := driftd(t, nil, "bake", "--config", p.config, "--root", p.root, "--key", p.key, "--out", p.manifest); r.code != 0 {
		t.Fatal(r)
	}
	r := driftd(t, nil, "diff", old, p.manifest, "--format", "json")
	if r.code != exitDrift {
		t.Fatal(r)
	}
	var d struct {
		Packages []reporter.PackageFindingJSON
	}
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range d.Packages {
		got = append(got, p.Change+" "+p.Name+" "+p.Before+">"+p.After)
	}
	if want := []string{"removed busybox 1.36-r0>", "changed musl 1.2.4-r0>1.2.5-r0"}; !slices.Equal(got, want) {
		t.Errorf("diff packages %q, want %q", got, want)
	}
	if text := driftd(t, nil, "diff", old, p.manifest).stdout; !strings.Contains(text, "2 packages differ") || !regexp.MustCompile(`modified +high +package +apk musl:x86_64 +1\.2\.4-r0 -> 1\.2\.5-r0`).MatchString(text) {
		t.Errorf("diff text:\n%s", text)
	}
}

// driftd diff of two images before and after a package install: the new
// binary is classified by the rules (binaries, critical) and explained by
// its package; the images differ, exit 1.
func TestDiffClassifiesAndExplains(t *testing.T) {
	p := newPackageRoot(t)
	os.MkdirAll(filepath.Join(p.root, "var/lib"), 0o755)
	runTool(t, "cp", "-a", "/var/lib/dpkg", filepath.Join(p.root, "var/lib/dpkg"))
	tool := &dpkgTool{root: p.root, dir: t.TempDir()}
	bake := func(out string) {
		if r := driftd(t, nil, "bake", "--root", p.root, "--key", p.key, "--out", out); r.code != 0 {
			t.Fatalf("bake: %v", r)
		}
	}
	before := filepath.Join(p.dir, "before.manifest")
	bake(before)
	tool.install(t, "hello", "1.0", map[string]string{"usr/bin/hello": "#!/bin/sh\necho hello\n"})
	writeTree(t, p.root, map[string]string{"usr/bin/by-hand": "#!/bin/sh\n"})
	after := filepath.Join(p.dir, "after.manifest")
	bake(after)
	r := driftd(t, nil, "diff", before, after, "--format", "json")
	if r.code != exitDrift {
		t.Fatalf("diff: want exit 1\n%v", r)
	}
	var d reporter.DiffJSON
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	got := map[string]reporter.FindingJSON{}
	for _, f := range d.Findings {
		got[f.Path] = f
	}
	if f := got["/usr/bin/hello"]; f.Kind != "added" || f.Category != "binaries" || f.Severity != "critical" || f.Package != "hello" ||
		f.ExplainedBy == nil || f.ExplainedBy.Package != "hello" || f.ExplainedBy.After != "1.0" {
		t.Errorf("the new binary: %+v", f)
	}
	if f := got["/usr/bin/by-hand"]; f.Category != "binaries" || !f.ByHand || f.ExplainedBy != nil {
		t.Errorf("the file no package installs: %+v", f)
	}
	if f := got["/var/lib/dpkg/status"]; f.ExplainedBy == nil || f.ByHand {
		t.Errorf("dpkg's own database, changed with the install: %+v", f)
	}
	text := driftd(t, nil, "diff", before, after).stdout
	if !regexp.MustCompile(`added +critical +binaries +/usr/bin/hello +explained by hello \(new\) 1\.0`).MatchString(text) {
		t.Errorf("diff text:\n%s", text)
	}
}
