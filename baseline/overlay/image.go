package overlay

import (
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
)

// Image is the container's image as a read-only file system: the lower
// layers merged as the mount would show them with no upper layer. It
// reads what the image shipped, whatever the container has done since.
// Symlinks are not followed: a link in the image names a path in the
// container, not on the host.
func (l Layers) Image() fs.ReadDirFS { return imageFS{l} }

type imageFS struct{ layers Layers }

func (f imageFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	p := f.layers.lookupLower(rootRel(name))
	if p == "" {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	// Each ancestor in the layer is a directory (lookupLower checks): only
	// the last component could be a link.
	file, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	info, err := file.Stat()
	if err != nil || !info.IsDir() {
		return file, err
	}
	file.Close()
	entries, err := f.ReadDir(name)
	if err != nil {
		return nil, err
	}
	return &imageDir{info: info, entries: entries}, nil
}

// imageDir is an open directory of the image: its merged entries.
type imageDir struct {
	info    fs.FileInfo
	entries []fs.DirEntry
}

func (d *imageDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *imageDir) Close() error               { return nil }
func (d *imageDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: syscall.EISDIR}
}

// ReadDir returns the next n entries, or all that are left for n <= 0.
func (d *imageDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if n <= 0 {
		out := d.entries
		d.entries = nil
		return out, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.entries))
	out := d.entries[:n]
	d.entries = d.entries[n:]
	return out, nil
}

// ReadDir lists a directory of the image: each layer's entries down to
// the first opaque copy, the top-most of each name, without the names a
// layer removed.
func (f imageFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	copies := f.layers.lowerCopies(rootRel(name))
	if len(copies) == 0 {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	seen := map[string]bool{}
	var out []fs.DirEntry
	for _, dir := range copies {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
		}
		for _, e := range entries {
			if seen[e.Name()] {
				continue
			}
			seen[e.Name()] = true
			if e.Type()&fs.ModeCharDevice != 0 {
				if info, err := e.Info(); err == nil && isWhiteoutInfo(info) {
					continue
				}
			}
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// rootRel turns an fs.FS name into a root-relative path.
func rootRel(name string) string {
	if name == "." {
		return "/"
	}
	return path.Join("/", name)
}

func isWhiteoutInfo(info fs.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && st.Mode&syscall.S_IFMT == syscall.S_IFCHR && st.Rdev == 0
}
