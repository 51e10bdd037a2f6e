package pkgdb

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"driftd/baseline"
)

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
func readRpm(ctx context.Context, root string, files func(*baseline.Package) bool) ([]installed, error) {
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
		cmd := exec.CommandContext(ctx, tool, append(args, names...)...)
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
	withFiles := map[string][]baseline.PackageFile{}
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
			pkgs = append(pkgs, installed{Package: baseline.Package{Manager: "rpm", Name: f[1], Version: f[2], Arch: arch}})
			algo = rpmAlgos[f[4]]
			if algo == "" {
				algo = "md5" // rpm's default before it recorded the algorithm
			}
		case f[0] == "F" && len(f) == 3 && len(pkgs) > 0:
			pf := baseline.PackageFile{Path: f[2]}
			if f[1] != "" {
				pf.Algo, pf.Digest = algo, unhex(f[1])
			}
			p := &pkgs[len(pkgs)-1]
			p.files = append(p.files, pf)
		}
	}
	return pkgs
}
