package explain

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"driftd/baseline"
	"driftd/baseline/pkgdb"
)

// Explainer tells, for each file finding, which package owns the path
// and whether a package change accounts for the change. It reads the
// live databases' file lists and digests of the changed packages only.
type Explainer struct {
	root    string
	base    *baseline.Manifest
	changed map[string]*baseline.PackageFinding // by package key
	// files are the live files of added and changed packages.
	files map[string]liveFile
	// dirs are the directories holding a file of a changed package, on
	// either side: their listing changed with it.
	dirs map[string]*baseline.PackageFinding
	pkgs []baseline.PackageFinding // sorted by key
}

type liveFile struct {
	baseline.PackageFile
	by *baseline.PackageFinding
}

// New prepares explanations of file findings under root by the
// package findings pkgs, the comparison of base with live.
func New(ctx context.Context, root string, base *baseline.Manifest, pkgs []baseline.PackageFinding) (*Explainer, error) {
	x := &Explainer{root: root, base: base, changed: map[string]*baseline.PackageFinding{}, files: map[string]liveFile{},
		dirs: map[string]*baseline.PackageFinding{}, pkgs: pkgs}
	for i := range pkgs {
		x.changed[pkgs[i].Package().Key()] = &pkgs[i]
	}
	if len(pkgs) == 0 {
		return x, nil
	}
	live, err := pkgdb.ReadFiles(ctx, root, func(p *baseline.Package) bool {
		f, ok := x.changed[p.Key()]
		return ok && f.Kind != baseline.Removed
	})
	if err != nil {
		return nil, err
	}
	for _, p := range live {
		by := x.changed[p.Key()]
		for _, f := range p.Files {
			x.files[f.Path] = liveFile{PackageFile: f, by: by}
			x.dirs[path.Dir(f.Path)] = by
		}
	}
	for i := range base.Entries.Len() {
		if o := base.Owner(i); o != nil {
			if by, ok := x.changed[o.Key()]; ok {
				x.dirs[path.Dir(base.Entries.At(i).Path)] = by
			}
		}
	}
	return x, nil
}

// Explain fills in f's owner and whether a package change accounts for it
// (ExplainedBy) or nothing does (ByHand). Both remain drift.
func (x *Explainer) Explain(f *baseline.Finding) {
	if f.Before == nil && f.After == nil {
		return // known only by path until compared again (a restored finding)
	}
	f.Owner, f.ExplainedBy, f.ByHand = nil, nil, false
	if f.Before != nil {
		if i, ok := x.base.Find(f.Path); ok {
			f.Owner = x.base.Owner(i)
		}
	}
	live, inLive := x.files[f.Path]
	if f.Owner == nil && inLive {
		f.Owner = live.by.Package()
	}
	if by := x.explain(f, live, inLive); by != nil {
		e := &baseline.Explanation{Manager: by.Package().Manager, Package: by.Package().Name, Before: by.Before.Version, After: by.After.Version}
		f.ExplainedBy = e
		return
	}
	f.ByHand = true
}

func (x *Explainer) explain(f *baseline.Finding, live liveFile, inLive bool) *baseline.PackageFinding {
	if len(x.changed) == 0 {
		return nil
	}
	if by := x.databaseChange(f.Path); by != nil {
		return by
	}
	switch {
	case f.After == nil && f.Before.Type == baseline.TypeDir:
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
	case f.After.Type == baseline.TypeDir:
		if inLive {
			return live.by
		}
		return x.dirs[f.Path]
	case !inLive:
	case f.After.Type == baseline.TypeRegular && live.Algo != "":
		if x.matches(f.Path, live.PackageFile) {
			return live.by
		}
	case f.After.Type != baseline.TypeRegular:
		return live.by // a symlink or the like: the manager records no digest to check
	}
	return nil
}

// databaseChange is the package change that accounts for a change in a
// package manager's own database: the package whose info file it is, or
// else the manager's first change.
func (x *Explainer) databaseChange(p string) *baseline.PackageFinding {
	var first *baseline.PackageFinding
	for i := range x.pkgs {
		f := &x.pkgs[i]
		if !pkgdb.InDatabase(p, pkgdb.ManagerDirs(f.Package().Manager)) {
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

// packageHashes are the digests package managers record.
var packageHashes = map[string]func() hash.Hash{
	"md5": md5.New, "sha1": sha1.New, "sha224": sha256.New224, "sha256": sha256.New,
	"sha384": sha512.New384, "sha512": sha512.New,
}

// matches reports whether the live file has the digest its package
// records.
func (x *Explainer) matches(p string, pf baseline.PackageFile) bool {
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

// Packages is the package side of a check.
type Packages struct {
	Findings []baseline.PackageFinding
	// Checked is true when at least one package database was compared.
	Checked    bool
	Unverified []string // databases that could not be read
	Warnings   []string // databases the bake could not read
	// Explainer annotates file findings; nil when the databases could not
	// be read.
	Explainer *Explainer
}

// Check reads the package databases under root and compares them
// with base.
func Check(ctx context.Context, root string, base *baseline.Manifest) Packages {
	live, err := pkgdb.ReadInventory(ctx, root)
	if err != nil {
		return Packages{Unverified: []string{"packages not verified: " + err.Error()}}
	}
	pc := Packages{Findings: baseline.ComparePackages(base, live)}
	pc.Unverified, pc.Warnings = baseline.PackageNotes(base, live)
	for _, s := range append(slices.Clone(base.Header.PackageManagers), live.Managers...) {
		pc.Checked = pc.Checked || s.Status == baseline.Inventoried
	}
	x, err := New(ctx, root, base, pc.Findings)
	if err != nil {
		pc.Unverified = append(pc.Unverified, "file changes not matched to packages: "+err.Error())
		return pc
	}
	pc.Explainer = x
	return pc
}

// Explain annotates file findings with their packages, when it can.
func (pc *Packages) Explain(findings []baseline.Finding) {
	if pc.Explainer == nil {
		return
	}
	for i := range findings {
		pc.Explainer.Explain(&findings[i])
	}
}
