package overlay

import (
	"errors"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Layers are an overlayfs mount's directories, as host paths.
type Layers struct {
	Upper string
	Lower []string // the top-most first, as lowerdir= lists them
}

// The xattrs overlayfs keeps on its layers: as trusted.* by default, as
// user.* on a mount with the userxattr option.
var (
	opaqueXattrs   = []string{"trusted.overlay.opaque", "user.overlay.opaque"}
	metacopyXattrs = []string{"trusted.overlay.metacopy", "user.overlay.metacopy"}
)

// isWhiteout reports whether st is overlayfs's mark of a removed name: a
// character device 0:0.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// hasXattr reports whether the path (not followed) has one of names.
func hasXattr(p string, names []string) bool {
	var buf [8]byte
	for _, n := range names {
		if _, err := unix.Lgetxattr(p, n, buf[:]); err == nil || errors.Is(err, unix.ERANGE) {
			return true
		}
	}
	return false
}

// isOpaque reports whether the directory at p hides the layers below it.
func isOpaque(p string) bool {
	var buf [8]byte
	for _, n := range opaqueXattrs {
		if sz, err := unix.Lgetxattr(p, n, buf[:]); err == nil && sz == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}

// lookupLower finds path (root-relative) in the image: the host path of
// the lower layer's copy that the mount would show were there no upper
// layer, or "" where the image has no such path (a layer's whiteout, an
// opaque or non-directory ancestor, or no layer with the name).
func (l Layers) lookupLower(rel string) string {
	if copies := l.lowerCopies(rel); len(copies) > 0 {
		return copies[0]
	}
	return ""
}

// lowerCopies are the host paths that make up rel in the image, top-most
// first: one for a file, and for a directory each layer's copy down to the
// first opaque one, whose entries the mount merges.
func (l Layers) lowerCopies(rel string) []string {
	var parts []string // rel's ancestors below the root
	if rel = strings.Trim(rel, "/"); rel != "" {
		parts = strings.Split(rel, "/")
		parts = parts[:len(parts)-1]
	}
	var out []string
	for _, layer := range l.Lower {
		stop := false   // an opaque ancestor: the layers below are hidden
		absent := false // not in this layer: look in the next
		dir := layer
		for _, part := range parts {
			dir = path.Join(dir, part)
			var st unix.Stat_t
			if err := unix.Lstat(dir, &st); err != nil {
				absent = true
				break
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return out // a whiteout or a file where the path wants a directory
			}
			if isOpaque(dir) {
				stop = true
			}
		}
		if !absent {
			p := path.Join(layer, rel)
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err == nil {
				isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
				if isWhiteout(&st) || len(out) > 0 && !isDir {
					return out // removed, or a file under the directory above
				}
				out = append(out, p)
				if !isDir || isOpaque(p) {
					return out
				}
			}
		}
		if stop {
			return out
		}
	}
	return out
}
