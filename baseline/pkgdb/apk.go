package pkgdb

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"driftd/baseline"
)

var apkManager = &packageManager{
	name:    "apk",
	dirs:    []string{"/lib/apk", "/etc/apk"},
	present: func(root string) bool { return exists(filepath.Join(root, "lib/apk/db/installed")) },
	read:    readApk,
}

// readApk reads Alpine's installed database: a paragraph per package of
// one-letter fields, where F: names a directory and each R: after it a
// file in it, with its Z: checksum ("Q1" and base64 SHA-1).
func readApk(_ context.Context, root string, files func(*baseline.Package) bool) ([]installed, error) {
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
			pkgs = append(pkgs, installed{Package: baseline.Package{Manager: "apk"}})
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
				cur.files = append(cur.files, baseline.PackageFile{Path: dir})
			}
		case 'R':
			if !decided { // a file in the root directory: no F: before it
				want, decided = files != nil && files(&cur.Package), true
				dir = "/"
			}
			if want {
				cur.files = append(cur.files, baseline.PackageFile{Path: path.Join(dir, v)})
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
