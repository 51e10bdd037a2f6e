package pkgdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"driftd/baseline"
)

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
	read func(ctx context.Context, root string, files func(*baseline.Package) bool) ([]installed, error)
}

// installed is a package with the files its manager lists for it.
type installed struct {
	baseline.Package
	files []baseline.PackageFile
	// dpkg only: conffiles, whose digests are in the status file, and
	// whether the info files carry the architecture in their names.
	conffiles []baseline.PackageFile
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
func ReadInventory(ctx context.Context, root string) (*baseline.Inventory, error) {
	inv, _, err := readInventory(ctx, root, nil)
	return inv, err
}

// readInventory reads the inventory and, for the packages files accepts,
// their file lists.
func readInventory(ctx context.Context, root string, files func(*baseline.Package) bool) (*baseline.Inventory, []installed, error) {
	inv := &baseline.Inventory{Managers: []baseline.ManagerState{}, Packages: []baseline.Package{}}
	var all []installed
	for _, m := range packageManagers {
		if !m.present(root) {
			continue
		}
		pkgs, err := m.read(ctx, root, files)
		var missing *toolMissingError
		switch {
		case errors.As(err, &missing):
			inv.Managers = append(inv.Managers, baseline.ManagerState{Manager: m.name, Status: baseline.NotInventoried, Reason: err.Error()})
			continue
		case err != nil:
			return nil, nil, err
		}
		inv.Managers = append(inv.Managers, baseline.ManagerState{Manager: m.name, Status: baseline.Inventoried, Packages: len(pkgs)})
		for i := range pkgs {
			inv.Packages = append(inv.Packages, pkgs[i].Package)
		}
		all = append(all, pkgs...)
	}
	slices.SortFunc(inv.Packages, func(a, b baseline.Package) int { return strings.Compare(a.Key(), b.Key()) })
	inv.Packages = slices.CompactFunc(inv.Packages, func(a, b baseline.Package) bool { return a.Key() == b.Key() })
	return inv, all, nil
}

// ReadInventoryOwners reads the inventory, as ReadInventory does, and in
// the same read the file lists, which it turns into owners: each path a
// package installs, mapped to that package's index in inv.Packages (the
// first package that lists it, for the directories many share;
// Manifest.SetOwners leaves directories out). Paths are as the walker sees
// them: a path listed under a symlinked top directory (/bin on a
// merged-/usr system) is resolved.
func ReadInventoryOwners(ctx context.Context, root string) (*baseline.Inventory, map[string]int, error) {
	inv, pkgs, err := readInventory(ctx, root, func(*baseline.Package) bool { return true })
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

// Fingerprint changes whenever a package database under root
// does: the size, modification time and inode of its files. Reading the
// databases again is needed only when it changed.
func Fingerprint(root string) string {
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

// DatabaseDirs are the directories of the package databases present
// under root, root-relative: where a package operation writes.
func DatabaseDirs(root string) []string {
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

// InDatabase reports whether path lies in one of dirs.
func InDatabase(p string, dirs []string) bool { return baseline.Under(p, dirs) }

// ManagerDirs are the directories of a package manager's own database:
// what a package operation rewrites besides the package's files.
func ManagerDirs(manager string) []string {
	if m := managerByName(manager); m != nil {
		return m.dirs
	}
	return nil
}

// Listed is a package with the files its manager lists for it, each path
// as the walker sees it.
type Listed struct {
	baseline.Package
	Files []baseline.PackageFile
}

// ReadFiles reads the file lists of the packages keep accepts, with the
// digests their managers recorded.
func ReadFiles(ctx context.Context, root string, keep func(*baseline.Package) bool) ([]Listed, error) {
	_, all, err := readInventory(ctx, root, keep)
	if err != nil {
		return nil, err
	}
	canon := newCanonicalizer(root)
	var out []Listed
	for _, p := range all {
		if !keep(&p.Package) {
			continue
		}
		l := Listed{Package: p.Package, Files: make([]baseline.PackageFile, 0, len(p.files))}
		for _, f := range p.files {
			f.Path = canon.path(f.Path)
			l.Files = append(l.Files, f)
		}
		out = append(out, l)
	}
	return out, nil
}
