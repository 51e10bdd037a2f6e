package baseline

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// PackageCategory is the category of package findings.
const PackageCategory = "package"

// PackageFinding is a package added, removed or changed since the bake.
type PackageFinding struct {
	Kind   Kind    // Added, Removed, or Modified for a new version
	Before Package // zero for Added
	After  Package // zero for Removed
}

// Package returns the package the finding is about: the new one, or the
// removed one.
func (f *PackageFinding) Package() *Package {
	if f.Kind == Removed {
		return &f.Before
	}
	return &f.After
}

// Change is the finding as driftd_package_drift labels it: added, removed
// or changed.
func (f *PackageFinding) Change() string {
	if f.Kind == Modified {
		return "changed"
	}
	return f.Kind.String()
}

// ComparePackages returns how the live inventory differs from the baked
// one, sorted by package key. A manager whose database was not read on
// either side is left out (see PackageUnverified); one whose database is
// gone has all its packages removed.
func ComparePackages(base *Manifest, live *Inventory) []PackageFinding {
	skip := map[string]bool{}
	for _, s := range base.Header.PackageManagers {
		if s.Status != Inventoried {
			skip[s.Manager] = true
		}
	}
	for _, s := range live.Managers {
		if s.Status != Inventoried {
			skip[s.Manager] = true
		}
	}
	var out []PackageFinding
	a, b := base.Packages, live.Packages
	for len(a) > 0 || len(b) > 0 {
		var c int
		switch {
		case len(a) == 0:
			c = 1
		case len(b) == 0:
			c = -1
		default:
			c = strings.Compare(a[0].Key(), b[0].Key())
		}
		switch {
		case c < 0:
			if !skip[a[0].Manager] {
				out = append(out, PackageFinding{Kind: Removed, Before: a[0]})
			}
			a = a[1:]
		case c > 0:
			if !skip[b[0].Manager] {
				out = append(out, PackageFinding{Kind: Added, After: b[0]})
			}
			b = b[1:]
		default:
			if a[0].Version != b[0].Version && !skip[a[0].Manager] {
				out = append(out, PackageFinding{Kind: Modified, Before: a[0], After: b[0]})
			}
			a, b = a[1:], b[1:]
		}
	}
	return out
}

// DiffPackages returns how image b's packages differ from image a's.
func DiffPackages(a, b *Manifest) []PackageFinding {
	return ComparePackages(a, &Inventory{Managers: b.Header.PackageManagers, Packages: b.Packages})
}

// PackageNotes says what a comparison of inventories could not verify,
// and what the bake could not: one line per manager.
func PackageNotes(base *Manifest, live *Inventory) (unverified, warnings []string) {
	for _, s := range base.Header.PackageManagers {
		switch l, ok := live.State(s.Manager); {
		case s.Status != Inventoried:
			warnings = append(warnings, fmt.Sprintf("%s packages not compared: at bake time, %s", s.Manager, s.Reason))
		case ok && l.Status != Inventoried:
			unverified = append(unverified, fmt.Sprintf("%s packages not verified: %s", s.Manager, l.Reason))
		}
	}
	return unverified, warnings
}

// Explanation is the package change that accounts for a file change.
type Explanation struct {
	Manager string
	Package string
	Before  string // the version at bake time; empty for a new package
	After   string // the version now; empty for a removed package
}

// Explainer tells, for each file finding, which package owns the path
// and whether a package change accounts for the change. It reads the
// live databases' file lists and digests of the changed packages only.
type Explainer struct {
	root    string
	base    *Manifest
	changed map[string]*PackageFinding // by package key
	// files are the live files of added and changed packages.
	files map[string]liveFile
	// dirs are the directories holding a file of a changed package, on
	// either side: their listing changed with it.
	dirs map[string]*PackageFinding
	pkgs []PackageFinding // sorted by key
}

type liveFile struct {
	PackageFile
	by *PackageFinding
}

// NewExplainer prepares explanations of file findings under root by the
// package findings pkgs, the comparison of base with live.
func NewExplainer(root string, base *Manifest, pkgs []PackageFinding) (*Explainer, error) {
	x := &Explainer{root: root, base: base, changed: map[string]*PackageFinding{}, files: map[string]liveFile{},
		dirs: map[string]*PackageFinding{}, pkgs: pkgs}
	for i := range pkgs {
		x.changed[pkgs[i].Package().Key()] = &pkgs[i]
	}
	if len(pkgs) == 0 {
		return x, nil
	}
	_, live, err := readInventory(root, func(p *Package) bool {
		f, ok := x.changed[p.Key()]
		return ok && f.Kind != Removed
	})
	if err != nil {
		return nil, err
	}
	canon := newCanonicalizer(root)
	for _, p := range live {
		by := x.changed[p.Key()]
		for _, f := range p.files {
			f.Path = canon.path(f.Path)
			x.files[f.Path] = liveFile{PackageFile: f, by: by}
			x.dirs[path.Dir(f.Path)] = by
		}
	}
	for i := range base.Entries {
		if o := base.Owner(i); o != nil {
			if by, ok := x.changed[o.Key()]; ok {
				x.dirs[path.Dir(base.Entries[i].Path)] = by
			}
		}
	}
	return x, nil
}

// Explain fills in f's owner and whether a package change accounts for it
// (ExplainedBy) or nothing does (ByHand). Both remain drift.
func (x *Explainer) Explain(f *Finding) {
	if f.Before == nil && f.After == nil {
		return // known only by path until compared again (a restored finding)
	}
	f.Owner, f.ExplainedBy, f.ByHand = nil, nil, false
	if f.Before != nil {
		if i, ok := findEntry(x.base.Entries, f.Path); ok {
			f.Owner = x.base.Owner(i)
		}
	}
	live, inLive := x.files[f.Path]
	if f.Owner == nil && inLive {
		f.Owner = live.by.Package()
	}
	if by := x.explain(f, live, inLive); by != nil {
		e := &Explanation{Manager: by.Package().Manager, Package: by.Package().Name, Before: by.Before.Version, After: by.After.Version}
		f.ExplainedBy = e
		return
	}
	f.ByHand = true
}

func (x *Explainer) explain(f *Finding, live liveFile, inLive bool) *PackageFinding {
	if len(x.changed) == 0 {
		return nil
	}
	if by := x.databaseChange(f.Path); by != nil {
		return by
	}
	switch {
	case f.After == nil && f.Before.Type == TypeDir:
		if !inLive {
			return x.dirs[f.Path]
		}
	case f.After == nil:
		// Removed: its package went, or its new version no longer has it.
		if f.Owner != nil {
			if by, ok := x.changed[f.Owner.Key()]; ok && !inLive {
				return by
			}
		}
	case f.After.Type == TypeDir:
		if inLive {
			return live.by
		}
		return x.dirs[f.Path]
	case !inLive:
	case f.After.Type == TypeRegular && live.Algo != "":
		if x.matches(f.Path, live.PackageFile) {
			return live.by
		}
	case f.After.Type != TypeRegular:
		return live.by // a symlink or the like: the manager records no digest to check
	}
	return nil
}

// databaseChange is the package change that accounts for a change in a
// package manager's own database: the package whose info file it is, or
// else the manager's first change.
func (x *Explainer) databaseChange(p string) *PackageFinding {
	var first *PackageFinding
	for i := range x.pkgs {
		f := &x.pkgs[i]
		if !underAny(p, managerByName(f.Package().Manager).dirs) {
			continue
		}
		if first == nil {
			first = f
		}
		if base := path.Base(p); strings.HasPrefix(base, f.Package().Name+".") || strings.HasPrefix(base, f.Package().Name+":") {
			return f
		}
	}
	return first
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// packageHashes are the digests package managers record.
var packageHashes = map[string]func() hash.Hash{
	"md5": md5.New, "sha1": sha1.New, "sha224": sha256.New224, "sha256": sha256.New,
	"sha384": sha512.New384, "sha512": sha512.New,
}

// matches reports whether the live file has the digest its package
// records.
func (x *Explainer) matches(p string, pf PackageFile) bool {
	newHash, ok := packageHashes[pf.Algo]
	if !ok {
		return false
	}
	h := newHash()
	root, err := os.OpenRoot(x.root)
	if err != nil {
		return false
	}
	defer root.Close()
	rel := strings.TrimPrefix(p, "/")
	f, err := root.Open(rel)
	if err != nil {
		return false
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return false
	}
	return bytes.Equal(h.Sum(nil), pf.Digest)
}

// PackageCheck is the package side of a check.
type PackageCheck struct {
	Findings []PackageFinding
	// Checked is true when at least one package database was compared.
	Checked    bool
	Unverified []string // databases that could not be read
	Warnings   []string // databases the bake could not read
	// Explainer annotates file findings; nil when the databases could not
	// be read.
	Explainer *Explainer
}

// CheckPackages reads the package databases under root and compares them
// with base.
func CheckPackages(root string, base *Manifest) PackageCheck {
	live, err := ReadInventory(root)
	if err != nil {
		return PackageCheck{Unverified: []string{"packages not verified: " + err.Error()}}
	}
	pc := PackageCheck{Findings: ComparePackages(base, live)}
	pc.Unverified, pc.Warnings = PackageNotes(base, live)
	for _, s := range append(slices.Clone(base.Header.PackageManagers), live.Managers...) {
		pc.Checked = pc.Checked || s.Status == Inventoried
	}
	x, err := NewExplainer(root, base, pc.Findings)
	if err != nil {
		pc.Unverified = append(pc.Unverified, "file changes not matched to packages: "+err.Error())
		return pc
	}
	pc.Explainer = x
	return pc
}

// Explain annotates file findings with their packages, when it can.
func (pc *PackageCheck) Explain(findings []Finding) {
	if pc.Explainer == nil {
		return
	}
	for i := range findings {
		pc.Explainer.Explain(&findings[i])
	}
}

// InventoryFingerprint changes whenever a package database under root
// does: the size, modification time and inode of its files. Reading the
// databases again is needed only when it changed.
func InventoryFingerprint(root string) string {
	var b strings.Builder
	add := func(p string) {
		var st os.FileInfo
		st, err := os.Stat(p)
		if err != nil {
			return
		}
		fmt.Fprintf(&b, "%s %d %d;", p, st.Size(), st.ModTime().UnixNano())
	}
	add(filepath.Join(root, "var/lib/dpkg/status"))
	add(filepath.Join(root, "var/lib/dpkg/status.d"))
	add(filepath.Join(root, "var/lib/dpkg/updates"))
	add(filepath.Join(root, "lib/apk/db/installed"))
	if db := rpmDBPath(root); db != "" {
		ents, _ := os.ReadDir(filepath.Join(root, db))
		for _, e := range ents {
			if e.Type().IsRegular() && !strings.HasSuffix(e.Name(), "-shm") && !strings.HasPrefix(e.Name(), "__db.") {
				add(filepath.Join(root, db, e.Name()))
			}
		}
	}
	return b.String()
}

// PackageDatabaseDirs are the directories of the package databases present
// under root, root-relative: where a package operation writes.
func PackageDatabaseDirs(root string) []string {
	var dirs []string
	for _, m := range packageManagers {
		if !m.present(root) {
			continue
		}
		for _, d := range m.dirs {
			if isDir(root, d) {
				dirs = append(dirs, d)
			}
		}
	}
	return dirs
}

// InPackageDatabase reports whether path lies in one of dirs.
func InPackageDatabase(path string, dirs []string) bool { return underAny(path, dirs) }
