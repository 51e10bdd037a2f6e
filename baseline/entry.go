package baseline

import (
	"bytes"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// Type is the kind of filesystem object an entry records.
type Type uint8

// Entry types. The values are stored in manifests: never renumber them.
const (
	TypeRegular Type = iota + 1
	TypeDir
	TypeSymlink
	TypeFIFO
	TypeSocket
	TypeCharDevice
	TypeBlockDevice
)

var typeNames = map[Type]string{
	TypeRegular: "file", TypeDir: "dir", TypeSymlink: "symlink", TypeFIFO: "fifo",
	TypeSocket: "socket", TypeCharDevice: "chardev", TypeBlockDevice: "blockdev",
}

// String is the type as reports name it.
func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Xattr is an extended attribute: its name and the SHA-256 of its value.
type Xattr struct {
	Name   string
	Digest [32]byte
}

// Entry is what the walk records of one path. Paths are raw bytes, relative
// to the root but written absolute ("/etc/passwd"); the root itself is "/".
type Entry struct {
	Path   string
	Type   Type
	Mode   uint32 // permission bits with setuid, setgid and sticky (07777)
	UID    uint32
	GID    uint32
	Size   int64
	Mtime  int64 // nanoseconds since the epoch
	Ctime  int64 // nanoseconds since the epoch
	Inode  uint64
	Nlink  uint64
	Rdev   uint64 // device number, for device nodes
	Digest [32]byte
	Target string // symlink target, raw bytes
	Xattrs []Xattr
	// Err says why the entry could not be read in full (its content, its
	// directory listing, its xattrs). Such an entry is never taken as clean.
	Err string
}

// HasDigest reports whether Digest holds the content's SHA-256.
func (e *Entry) HasDigest() bool { return e.Type == TypeRegular && e.Err == "" }

// FileMode renders the type and permissions the way ls does.
func (e *Entry) FileMode() fs.FileMode {
	m := fs.FileMode(e.Mode & 0o777)
	if e.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if e.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if e.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	switch e.Type {
	case TypeDir:
		m |= fs.ModeDir
	case TypeSymlink:
		m |= fs.ModeSymlink
	case TypeFIFO:
		m |= fs.ModeNamedPipe
	case TypeSocket:
		m |= fs.ModeSocket
	case TypeCharDevice:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case TypeBlockDevice:
		m |= fs.ModeDevice
	}
	return m
}

// Diff returns the attributes among attrs in which a and b differ. A type
// change is reported alone: it subsumes every other difference. For
// directories, size, mtime and nlink follow from their contents, which are
// compared entry by entry, so they are never reported; for symlinks, the
// same holds of size and mtime with respect to the target.
func (a *Entry) Diff(b *Entry, attrs Attr) Attr {
	if a.Type != b.Type {
		return AttrType
	}
	switch a.Type {
	case TypeDir:
		attrs &^= AttrSize | AttrMtime | AttrNlink
	case TypeSymlink:
		attrs &^= AttrSize | AttrMtime
	}
	var d Attr
	check := func(attr Attr, differ bool) {
		if attrs&attr != 0 && differ {
			d |= attr
		}
	}
	check(AttrMode, a.Mode != b.Mode)
	check(AttrUID, a.UID != b.UID)
	check(AttrGID, a.GID != b.GID)
	check(AttrSize, a.Size != b.Size)
	check(AttrMtime, a.Mtime != b.Mtime)
	check(AttrCtime, a.Ctime != b.Ctime)
	check(AttrInode, a.Inode != b.Inode)
	check(AttrNlink, a.Nlink != b.Nlink)
	check(AttrContent, a.HasDigest() && b.HasDigest() && a.Digest != b.Digest)
	check(AttrTarget, a.Target != b.Target)
	check(AttrDev, a.Rdev != b.Rdev)
	check(AttrXattrs, !xattrsEqual(a.Xattrs, b.Xattrs))
	return d
}

func xattrsEqual(a, b []Xattr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Digest[:], b[i].Digest[:]) {
			return false
		}
	}
	return true
}

// SortEntries sorts entries by path bytes, the manifest's order. It sorts
// indices, then moves each entry once: an entry is large, and sorting the
// entries themselves would move each of them many times.
func SortEntries(entries []Entry) {
	idx := make([]int32, len(entries))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return strings.Compare(entries[a].Path, entries[b].Path) })
	// Apply the permutation in place, cycle by cycle: position i takes the
	// entry at idx[i].
	for i := range idx {
		if idx[i] < 0 {
			continue
		}
		tmp := entries[i]
		j := i
		for {
			k := int(idx[j])
			idx[j] = -1
			if k == i {
				entries[j] = tmp
				break
			}
			entries[j] = entries[k]
			j = k
		}
	}
}
