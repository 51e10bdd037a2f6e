package pkgdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"driftd/baseline"
)

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
func readDpkg(_ context.Context, root string, files func(*baseline.Package) bool) ([]installed, error) {
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
		p := installed{Package: baseline.Package{Manager: "dpkg", Name: fields["Package"], Version: fields["Version"], Arch: fields["Architecture"]}, gone: gone}
		p.multiArch = fields["Multi-Arch"] == "same"
		for _, line := range strings.Split(fields["Conffiles"], "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && strings.HasPrefix(f[0], "/") {
				p.conffiles = append(p.conffiles, baseline.PackageFile{Path: f[0], Algo: "md5", Digest: unhex(f[1])})
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
	digests := map[string]baseline.PackageFile{}
	for _, f := range p.conffiles {
		digests[f.Path] = f
	}
	if err := eachMd5sum(base+".md5sums", func(f baseline.PackageFile) { digests[f.Path] = f }); err != nil {
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
			f = baseline.PackageFile{Path: line}
		}
		p.files = append(p.files, f)
	}
	return nil
}

// dpkgMd5sums reads a status.d package's md5sums, its only file list.
func (p *installed) dpkgMd5sums(file string) error {
	return eachMd5sum(file, func(f baseline.PackageFile) { p.files = append(p.files, f) })
}

func eachMd5sum(file string, f func(baseline.PackageFile)) error {
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
		f(baseline.PackageFile{Path: "/" + strings.TrimPrefix(p, "/"), Algo: "md5", Digest: unhex(sum)})
	}
	return nil
}
