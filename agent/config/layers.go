package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DropInDir is where, beside the main config file, drop-ins live: each
// *.toml there is a layer over the main file, in lexical order.
const DropInDir = "driftd.d"

// Load reads the config at path, layered: the embedded default, then the
// file at path, then the drop-ins of its directory (driftd.d/*.toml, in
// lexical order). A later file may set any key or add rules, and a partial
// file is fine; each is decoded strictly, and an error names its file and
// line. An empty path is the embedded default alone.
func Load(path string) (*Loaded, error) {
	return load(path, os.ReadFile, filepath.Glob)
}

// LoadFS reads the config at the absolute path inside fsys, layered as
// Load does: the config an image ships, read from the image itself.
func LoadFS(fsys fs.FS, path string) (*Loaded, error) {
	rel := func(p string) string { return strings.TrimPrefix(p, "/") }
	read := func(p string) ([]byte, error) { return fs.ReadFile(fsys, rel(p)) }
	glob := func(pattern string) ([]string, error) {
		matches, err := fs.Glob(fsys, rel(pattern))
		for i := range matches {
			matches[i] = "/" + matches[i]
		}
		return matches, err
	}
	return load(path, read, glob)
}

func load(path string, readFile func(string) ([]byte, error), glob func(string) ([]string, error)) (*Loaded, error) {
	c := defaults()
	l := &Loaded{Origins: map[string]string{}}
	if err := decodeLayer(&c, l, Default, DefaultName); err != nil {
		return nil, err
	}
	if path == "" {
		return l.finish(c)
	}
	files := []string{path}
	dropIns, err := glob(filepath.Join(filepath.Dir(path), DropInDir, "*.toml"))
	if err != nil {
		return nil, fmt.Errorf("config drop-ins: %w", err)
	}
	slices.Sort(dropIns)
	for _, f := range append(files, dropIns...) {
		data, err := readFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("config %s does not exist (the packages install /etc/driftd/driftd.toml; driftd config default prints one)", f)
		}
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if err := decodeLayer(&c, l, data, f); err != nil {
			return nil, err
		}
	}
	return l.finish(c)
}
