package overlay

import (
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"driftd/baseline"
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
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	for _, layer := range l.Lower {
		stop := false // an opaque ancestor: the layers below are hidden
		hidden := false
		dir := layer
		for _, part := range parts[:len(parts)-1] {
			dir = path.Join(dir, part)
			var st unix.Stat_t
			if err := unix.Lstat(dir, &st); err != nil {
				hidden = true // not in this layer: look in the next
				break
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return "" // a whiteout or a file where the path wants a directory
			}
			if isOpaque(dir) {
				stop = true
			}
		}
		if !hidden {
			p := path.Join(layer, rel)
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err == nil {
				if isWhiteout(&st) {
					return ""
				}
				return p
			}
		}
		if stop {
			return ""
		}
	}
	return ""
}

// readEntry records the file at host path p as the entry rel: what the
// walk records, for one lower-layer path.
func readEntry(p, rel string) (baseline.Entry, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return baseline.Entry{}, err
	}
	e := baseline.Entry{
		Path: rel, Type: fileType(st.Mode), Mode: st.Mode &^ unix.S_IFMT,
		UID: st.Uid, GID: st.Gid, Size: st.Size, Mtime: st.Mtim.Nano(),
		Ctime: st.Ctim.Nano(), Inode: st.Ino, Nlink: st.Nlink, Rdev: st.Rdev,
	}
	switch e.Type {
	case baseline.TypeSymlink:
		target, err := os.Readlink(p)
		if err != nil {
			e.Err = err.Error()
		}
		e.Target = target
	case baseline.TypeRegular:
		f, err := os.Open(p)
		if err != nil {
			e.Err = err.Error()
			break
		}
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			e.Err = err.Error()
		}
		f.Close()
		h.Sum(e.Digest[:0])
	}
	e.Xattrs, e.Err = readXattrs(p, e.Err)
	return e, nil
}

// readXattrs records the path's xattrs as the walk does (name and digest
// of the value), keeping errMsg when there was one already.
func readXattrs(p, errMsg string) ([]baseline.Xattr, string) {
	size, err := unix.Llistxattr(p, nil)
	if err != nil || size == 0 {
		return nil, errMsg
	}
	names := make([]byte, size)
	size, err = unix.Llistxattr(p, names)
	if err != nil {
		return nil, firstErr(errMsg, err)
	}
	var out []baseline.Xattr
	for _, name := range strings.Split(strings.TrimRight(string(names[:size]), "\x00"), "\x00") {
		vsize, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			return out, firstErr(errMsg, err)
		}
		value := make([]byte, vsize)
		vsize, err = unix.Lgetxattr(p, name, value)
		if err != nil {
			return out, firstErr(errMsg, err)
		}
		out = append(out, baseline.Xattr{Name: name, Digest: sha256.Sum256(value[:vsize])})
	}
	slices.SortFunc(out, func(a, b baseline.Xattr) int { return strings.Compare(a.Name, b.Name) })
	return out, errMsg
}

func firstErr(msg string, err error) string {
	if msg != "" {
		return msg
	}
	return err.Error()
}

func fileType(mode uint32) baseline.Type {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return baseline.TypeDir
	case unix.S_IFLNK:
		return baseline.TypeSymlink
	case unix.S_IFIFO:
		return baseline.TypeFIFO
	case unix.S_IFSOCK:
		return baseline.TypeSocket
	case unix.S_IFCHR:
		return baseline.TypeCharDevice
	case unix.S_IFBLK:
		return baseline.TypeBlockDevice
	}
	return baseline.TypeRegular
}
