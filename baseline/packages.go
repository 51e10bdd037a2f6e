package baseline

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Package is one installed package, as its manager records it.
type Package struct {
	Manager string `json:"manager"` // dpkg, rpm or apk
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch,omitempty"`
}

// Key identifies a package across versions: manager, name and
// architecture. Two inventories are compared key by key.
func (p *Package) Key() string { return p.Manager + "/" + p.Name + ":" + p.Arch }

// The states of a package manager's database in an inventory.
const (
	Inventoried    = "inventoried"
	NotInventoried = "not_inventoried"
)

// ManagerState says whether a package manager's database was read, and
// if not, why: a database that driftd could not read is said to be so,
// never taken as empty.
type ManagerState struct {
	Manager  string `json:"manager"`
	Status   string `json:"status"` // Inventoried or NotInventoried
	Reason   string `json:"reason,omitempty"`
	Packages int    `json:"packages"`
}

// Inventory is what the package managers under a root say is installed.
type Inventory struct {
	Managers []ManagerState // only the managers whose database exists
	Packages []Package      // sorted by key
}

// PackageFile is a path a package installs, with the digest its manager
// recorded for it (empty for directories and where none is recorded).
type PackageFile struct {
	Path   string
	Algo   string // md5, sha1, sha256, ...: the manager's choice
	Digest []byte
}

// packageManager reads one kind of package database under a root.
type packageManager struct {
	name string
	// dirs are the database's own directories: what a package operation
	// rewrites besides the package's files.
	dirs []string
	// present reports whether the database exists under root.
	present func(root string) bool
	// read lists the packages and, for each package files accepts, its
	// files. A nil files collects none.
	read func(root string, files func(*Package) bool) ([]installed, error)
}

// installed is a package with the files its manager lists for it.
type installed struct {
	Package
	files []PackageFile
	// dpkg only: conffiles, whose digests are in the status file, and
	// whether the info files carry the architecture in their names.
	conffiles []PackageFile
	multiArch bool
	gone      bool // a journal entry for a package no longer on disk
}

var packageManagers = []*packageManager{dpkgManager, rpmManager, apkManager}

func managerByName(name string) *packageManager {
	for _, m := range packageManagers {
		if m.name == name {
			return m
		}
	}
	return nil
}

// ReadInventory reads every package database present under root. A
// database that exists but cannot be read is an error naming its file,
// except rpm's without the rpm tool, which is recorded as not inventoried.
func ReadInventory(root string) (*Inventory, error) {
	inv, _, err := readInventory(root, nil)
	return inv, err
}

// readInventory reads the inventory and, for the packages files accepts,
// their file lists.
func readInventory(root string, files func(*Package) bool) (*Inventory, []installed, error) {
	inv := &Inventory{Managers: []ManagerState{}, Packages: []Package{}}
	var all []installed
	for _, m := range packageManagers {
		if !m.present(root) {
			continue
		}
		pkgs, err := m.read(root, files)
		var missing *toolMissingError
		switch {
		case errors.As(err, &missing):
			inv.Managers = append(inv.Managers, ManagerState{Manager: m.name, Status: NotInventoried, Reason: err.Error()})
			continue
		case err != nil:
			return nil, nil, err
		}
		inv.Managers = append(inv.Managers, ManagerState{Manager: m.name, Status: Inventoried, Packages: len(pkgs)})
		for i := range pkgs {
			inv.Packages = append(inv.Packages, pkgs[i].Package)
		}
		all = append(all, pkgs...)
	}
	slices.SortFunc(inv.Packages, func(a, b Package) int { return strings.Compare(a.Key(), b.Key()) })
	inv.Packages = slices.CompactFunc(inv.Packages, func(a, b Package) bool { return a.Key() == b.Key() })
	return inv, all, nil
}

// State returns the state of a manager in the inventory, if its database
// exists.
func (inv *Inventory) State(manager string) (ManagerState, bool) {
	for _, s := range inv.Managers {
		if s.Manager == manager {
			return s, true
		}
	}
	return ManagerState{}, false
}

// ReadInventoryOwners reads the inventory, as ReadInventory does, and in
// the same read the file lists, which it turns into owners: each path a
// package installs, mapped to that package's index in inv.Packages (the
// first package that lists it, for the directories many share;
// Manifest.SetOwners leaves directories out). Paths are as the walker sees
// them: a path listed under a symlinked top directory (/bin on a
// merged-/usr system) is resolved.
func ReadInventoryOwners(root string) (*Inventory, map[string]int, error) {
	inv, pkgs, err := readInventory(root, func(*Package) bool { return true })
	if err != nil {
		return nil, nil, err
	}
	index := make(map[string]int, len(inv.Packages))
	for i := range inv.Packages {
		index[inv.Packages[i].Key()] = i
	}
	canon := newCanonicalizer(root)
	owners := map[string]int{}
	for _, p := range pkgs {
		i, ok := index[p.Key()]
		if !ok {
			continue
		}
		for _, f := range p.files {
			fp := canon.path(f.Path)
			if _, taken := owners[fp]; !taken {
				owners[fp] = i
			}
		}
	}
	return inv, owners, nil
}

func isDir(root, p string) bool {
	fi, err := os.Lstat(filepath.Join(root, p))
	return err == nil && fi.IsDir()
}

// canonicalizer resolves a package's path through the root's symlinked
// top-level directories (/bin -> usr/bin), the one place where package
// lists and the walked tree name the same file differently.
type canonicalizer struct{ top map[string]string }

func newCanonicalizer(root string) *canonicalizer {
	c := &canonicalizer{top: map[string]string{}}
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		t, err := os.Readlink(filepath.Join(root, e.Name()))
		if err != nil || strings.HasPrefix(t, "/") && !strings.HasPrefix(t, "/usr/") {
			continue
		}
		if !strings.HasPrefix(t, "/") {
			t = "/" + t
		}
		c.top["/"+e.Name()] = path.Clean(t)
	}
	return c
}

func (c *canonicalizer) path(p string) string {
	top, rest := p, ""
	if i := strings.IndexByte(p[1:], '/'); i >= 0 {
		top, rest = p[:i+1], p[i+1:]
	}
	if t, ok := c.top[top]; ok {
		return t + rest
	}
	return p
}

// toolMissingError is a database that needs a tool this host lacks.
type toolMissingError struct{ msg string }

func (e *toolMissingError) Error() string { return e.msg }

// --- dpkg ---

var dpkgManager = &packageManager{
	name: "dpkg",
	dirs: []string{"/var/lib/dpkg", "/var/lib/apt"},
	present: func(root string) bool {
		return exists(filepath.Join(root, "var/lib/dpkg/status")) || exists(filepath.Join(root, "var/lib/dpkg/status.d"))
	},
	read: readDpkg,
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// readDpkg reads the status file and, for distroless images, the
// per-package files of status.d. File lists come from info/*.list (and the
// md5sums beside them); status.d images have only the md5sums.
func readDpkg(root string, files func(*Package) bool) ([]installed, error) {
	var pkgs []installed
	statusPath := filepath.Join(root, "var/lib/dpkg/status")
	if data, err := os.ReadFile(statusPath); err == nil {
		ps, err := parseDpkgStatus(data, statusPath, false)
		if err != nil {
			return nil, err
		}
		if ps, err = dpkgJournal(root, ps); err != nil {
			return nil, err
		}
		for i := range ps {
			if files != nil && files(&ps[i].Package) {
				if err := ps[i].dpkgFiles(root, "var/lib/dpkg/info"); err != nil {
					return nil, err
				}
			}
		}
		pkgs = append(pkgs, ps...)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read dpkg status: %w", err)
	}
	dir := filepath.Join(root, "var/lib/dpkg/status.d")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read dpkg status.d: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() || strings.Contains(e.Name(), ".") {
			continue // NAME.md5sums and the like go with NAME
		}
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read dpkg status.d: %w", err)
		}
		ps, err := parseDpkgStatus(data, p, false)
		if err != nil {
			return nil, err
		}
		for i := range ps {
			if files != nil && files(&ps[i].Package) {
				if err := ps[i].dpkgMd5sums(filepath.Join(dir, e.Name()+".md5sums")); err != nil {
					return nil, err
				}
			}
		}
		pkgs = append(pkgs, ps...)
	}
	return pkgs, nil
}

// dpkgJournal applies the entries dpkg has not yet folded into its status
// file: updates/NNNN, each a status paragraph that supersedes the
// package's, written during a dpkg run (and left behind by one that was
// interrupted). dpkg-query reads them the same way.
func dpkgJournal(root string, pkgs []installed) ([]installed, error) {
	dir := filepath.Join(root, "var/lib/dpkg/updates")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return pkgs, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dpkg updates: %w", err)
	}
	key := func(p *installed) string { return p.Name + ":" + p.Arch }
	at := map[string]int{}
	for i := range pkgs {
		at[key(&pkgs[i])] = i
	}
	for _, e := range ents { // ReadDir sorts by name: NNNN, in the order written
		if !e.Type().IsRegular() || strings.Trim(e.Name(), "0123456789") != "" {
			continue // dpkg's own temporary files
		}
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // folded into the status file meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("read dpkg updates: %w", err)
		}
		ps, err := parseDpkgStatus(data, p, true)
		if err != nil {
			return nil, err
		}
		for _, u := range ps {
			i, ok := at[key(&u)]
			switch {
			case ok:
				pkgs[i] = u
			case !u.gone:
				at[key(&u)] = len(pkgs)
				pkgs = append(pkgs, u)
			}
		}
	}
	return slices.DeleteFunc(pkgs, func(p installed) bool { return p.gone }), nil
}

// parseDpkgStatus reads the packages a status file says are installed
// (or half way there: unpacked files are on disk all the same). With
// keepGone, the packages that are not (only their config files left, or
// purged) come too, marked gone, as a journal entry needs them.
func parseDpkgStatus(data []byte, name string, keepGone bool) ([]installed, error) {
	var out []installed
	for n, para := range bytes.Split(data, []byte("\n\n")) {
		fields, err := parseStanza(para)
		if err != nil {
			return nil, fmt.Errorf("dpkg status %s: paragraph %d: %w", name, n+1, err)
		}
		if len(fields) == 0 {
			continue
		}
		st := strings.Fields(fields["Status"])
		gone := len(st) == 3 && (st[2] == "not-installed" || st[2] == "config-files")
		if gone && !keepGone {
			continue
		}
		if fields["Package"] == "" || (fields["Version"] == "" && !gone) {
			return nil, fmt.Errorf("dpkg status %s: paragraph %d: no Package or Version", name, n+1)
		}
		p := installed{Package: Package{Manager: "dpkg", Name: fields["Package"], Version: fields["Version"], Arch: fields["Architecture"]}, gone: gone}
		p.multiArch = fields["Multi-Arch"] == "same"
		for _, line := range strings.Split(fields["Conffiles"], "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && strings.HasPrefix(f[0], "/") {
				p.conffiles = append(p.conffiles, PackageFile{Path: f[0], Algo: "md5", Digest: unhex(f[1])})
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// parseStanza splits an RFC 822 style paragraph into its fields;
// continuation lines join their field with newlines.
func parseStanza(para []byte) (map[string]string, error) {
	fields := map[string]string{}
	var last string
	for _, line := range strings.Split(string(para), "\n") {
		switch {
		case line == "":
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("continuation line %q before any field", line)
			}
			fields[last] += "\n" + strings.TrimSpace(line)
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("line %q is not a field", line)
			}
			last = k
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields, nil
}

// dpkgFiles reads a package's .list and .md5sums from the info directory.
func (p *installed) dpkgFiles(root, info string) error {
	base := filepath.Join(root, info, p.Name)
	if p.multiArch || !exists(base+".list") {
		base += ":" + p.Arch
	}
	digests := map[string]PackageFile{}
	for _, f := range p.conffiles {
		digests[f.Path] = f
	}
	if err := eachMd5sum(base+".md5sums", func(f PackageFile) { digests[f.Path] = f }); err != nil {
		return err
	}
	data, err := os.ReadFile(base + ".list")
	if errors.Is(err, os.ErrNotExist) {
		return nil // a package without files, or one half removed
	}
	if err != nil {
		return fmt.Errorf("read dpkg file list: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "/") || line == "/." {
			continue
		}
		f, ok := digests[line]
		if !ok {
			f = PackageFile{Path: line}
		}
		p.files = append(p.files, f)
	}
	return nil
}

// dpkgMd5sums reads a status.d package's md5sums, its only file list.
func (p *installed) dpkgMd5sums(file string) error {
	return eachMd5sum(file, func(f PackageFile) { p.files = append(p.files, f) })
}

func eachMd5sum(file string, f func(PackageFile)) error {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read dpkg md5sums: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		sum, p, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 32 {
			continue
		}
		f(PackageFile{Path: "/" + strings.TrimPrefix(p, "/"), Algo: "md5", Digest: unhex(sum)})
	}
	return nil
}

// --- rpm ---

// rpmDBDirs are where an rpm database lives: the classic place, and the
// one Fedora and openSUSE moved it to.
var rpmDBDirs = []string{"/var/lib/rpm", "/usr/lib/sysimage/rpm"}

var rpmManager = &packageManager{
	name: "rpm",
	dirs: append(slices.Clone(rpmDBDirs), "/var/lib/dnf", "/var/lib/yum"),
	present: func(root string) bool {
		return rpmDBPath(root) != ""
	},
	read: readRpm,
}

// rpmDBPath is the root-relative directory of the rpm database, or "".
func rpmDBPath(root string) string {
	for _, d := range rpmDBDirs {
		for _, f := range []string{"rpmdb.sqlite", "Packages", "Packages.db"} {
			if exists(filepath.Join(root, d, f)) {
				return d
			}
		}
	}
	return ""
}

// rpmQueryFormat prints a line per package, then a line per file.
const rpmQueryFormat = `P\t%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\t%{FILEDIGESTALGO}\n`
const rpmFilesFormat = `[F\t%{FILEDIGESTS}\t%{FILENAMES}\n]`

// rpmAlgos maps rpm's PGP hash algorithm numbers to names.
var rpmAlgos = map[string]string{"1": "md5", "2": "sha1", "8": "sha256", "9": "sha384", "10": "sha512", "11": "sha224"}

// readRpm asks the rpm tool: the database format changed between
// releases (Berkeley DB, NDB, SQLite), and rpm reads them all.
func readRpm(root string, files func(*Package) bool) ([]installed, error) {
	tool, err := exec.LookPath("rpm")
	if err != nil {
		return nil, &toolMissingError{"the rpm database was not inventoried: the rpm tool is not installed"}
	}
	dbpath := rpmDBPath(root)
	// rpm writes even when it only reads (SQLite's -shm file, Berkeley
	// DB's __db.* files): it queries a copy, so that driftd does not
	// change what it watches.
	snap, err := os.MkdirTemp("", "driftd-rpmdb")
	if err != nil {
		return nil, fmt.Errorf("rpm database: %w", err)
	}
	defer os.RemoveAll(snap)
	if err := copyFiles(filepath.Join(root, dbpath), filepath.Join(snap, "var/lib/rpm")); err != nil {
		return nil, fmt.Errorf("rpm database: %w", err)
	}
	query := func(qf string, names ...string) ([]byte, error) {
		args := []string{"--root", snap, "--dbpath", "/var/lib/rpm", "-q", "--qf", qf}
		if len(names) == 0 {
			args = append(args, "-a")
		}
		var stderr bytes.Buffer
		cmd := exec.Command(tool, append(args, names...)...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("rpm database %s: rpm -q: %v: %s", filepath.Join(root, dbpath), err, strings.TrimSpace(stderr.String()))
		}
		return out, nil
	}
	out, err := query(rpmQueryFormat)
	if err != nil {
		return nil, err
	}
	pkgs := parseRpm(out)
	if files == nil {
		return pkgs, nil
	}
	var want []string
	for i := range pkgs {
		if files(&pkgs[i].Package) {
			want = append(want, pkgs[i].Name)
		}
	}
	if len(want) == 0 {
		return pkgs, nil
	}
	if len(want) == len(pkgs) {
		want = nil // all of them: -a
	}
	out, err = query(rpmQueryFormat+rpmFilesFormat, want...)
	if err != nil {
		return nil, err
	}
	withFiles := map[string][]PackageFile{}
	for _, p := range parseRpm(out) {
		withFiles[p.Key()] = p.files
	}
	for i := range pkgs {
		pkgs[i].files = withFiles[pkgs[i].Key()]
	}
	return pkgs, nil
}

// copyFiles copies the regular files of directory from into a new
// directory to.
func copyFiles(from, to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// parseRpm reads the query format's output.
func parseRpm(out []byte) []installed {
	var pkgs []installed
	var algo string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "\t")
		switch {
		case f[0] == "P" && len(f) == 5:
			arch := f[3]
			if arch == "(none)" {
				arch = ""
			}
			pkgs = append(pkgs, installed{Package: Package{Manager: "rpm", Name: f[1], Version: f[2], Arch: arch}})
			algo = rpmAlgos[f[4]]
			if algo == "" {
				algo = "md5" // rpm's default before it recorded the algorithm
			}
		case f[0] == "F" && len(f) == 3 && len(pkgs) > 0:
			pf := PackageFile{Path: f[2]}
			if f[1] != "" {
				pf.Algo, pf.Digest = algo, unhex(f[1])
			}
			p := &pkgs[len(pkgs)-1]
			p.files = append(p.files, pf)
		}
	}
	return pkgs
}

// --- apk ---

var apkManager = &packageManager{
	name:    "apk",
	dirs:    []string{"/lib/apk", "/etc/apk"},
	present: func(root string) bool { return exists(filepath.Join(root, "lib/apk/db/installed")) },
	read:    readApk,
}

// readApk reads Alpine's installed database: a paragraph per package of
// one-letter fields, where F: names a directory and each R: after it a
// file in it, with its Z: checksum ("Q1" and base64 SHA-1).
func readApk(root string, files func(*Package) bool) ([]installed, error) {
	name := filepath.Join(root, "lib/apk/db/installed")
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read apk database: %w", err)
	}
	defer f.Close()
	var pkgs []installed
	var cur *installed
	var dir string
	want, decided := false, false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if text == "" {
			cur = nil
			continue
		}
		if len(text) < 2 || text[1] != ':' {
			return nil, fmt.Errorf("apk database %s: line %d: %q is not a field", name, line, text)
		}
		k, v := text[0], text[2:]
		if cur == nil {
			pkgs = append(pkgs, installed{Package: Package{Manager: "apk"}})
			cur = &pkgs[len(pkgs)-1]
			dir, want, decided = "", false, false
		}
		switch k {
		case 'P':
			cur.Name = v
		case 'V':
			cur.Version = v
		case 'A':
			cur.Arch = v
		case 'F':
			if !decided {
				want, decided = files != nil && files(&cur.Package), true
			}
			dir = "/" + v
			if want {
				cur.files = append(cur.files, PackageFile{Path: dir})
			}
		case 'R':
			if !decided { // a file in the root directory: no F: before it
				want, decided = files != nil && files(&cur.Package), true
				dir = "/"
			}
			if want {
				cur.files = append(cur.files, PackageFile{Path: path.Join(dir, v)})
			}
		case 'Z':
			if want && len(cur.files) > 0 && strings.HasPrefix(v, "Q1") {
				f := &cur.files[len(cur.files)-1]
				f.Algo, f.Digest = "sha1", unbase64(v[2:])
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read apk database %s: %w", name, err)
	}
	for i := range pkgs {
		if pkgs[i].Name == "" || pkgs[i].Version == "" {
			return nil, fmt.Errorf("apk database %s: package %d has no name (P) or version (V)", name, i+1)
		}
	}
	return pkgs, nil
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

func unbase64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

// OSRelease is what an image's os-release file says it is.
type OSRelease struct {
	ID        string `json:"id"`
	VersionID string `json:"version_id,omitempty"`
	Name      string `json:"pretty_name,omitempty"`
}

// ReadOSRelease reads /etc/os-release (or /usr/lib/os-release) under root;
// nil when there is none.
func ReadOSRelease(root string) *OSRelease {
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			continue
		}
		var r OSRelease
		for _, line := range strings.Split(string(data), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"'`)
			switch k {
			case "ID":
				r.ID = v
			case "VERSION_ID":
				r.VersionID = v
			case "PRETTY_NAME":
				r.Name = v
			}
		}
		if r.ID != "" {
			return &r
		}
	}
	return nil
}
