package walk

import (
	"encoding/binary"
	"unsafe"

	"driftd/baseline"
)

// held is the bake's tree while it is walked: each entry written as bytes
// into chunks that hold no pointers, so the GC never scans them. Held as
// Entry values, a million paths were a million strings and four pointers
// per entry to mark on every cycle of the bake's low GC target, and the
// bake spent a tenth of its time in the GC.
//
// A record is the path (uvarint length, bytes), the fixed fields, then
// the digest of a file without error, and the rare fields where they
// occur (symlink target, xattrs, error), each marked in the flags byte.
type held struct {
	chunks [][]byte // filled in turn; never grown, so records never move
	at     []heldAt // where each record is: no pointers either
	tree   heldTree // each record's directory, found as it is added
}

// heldAt is where a record is.
type heldAt struct {
	chunk int32
	at    uint32
}

// heldRef is a record and its path, which is the record's own bytes: for
// sorting a directory's few records, not a whole tree's, whose list
// of strings the GC would scan on every cycle of the bake's end.
type heldRef struct {
	path string
	heldAt
}

const heldChunk = 1 << 20

// Record flags: which optional fields follow.
const (
	heldDigest = 1 << iota
	heldTarget
	heldXattrs
	heldErr
)

// add writes e as a record.
func (h *held) add(e *baseline.Entry) {
	size := binary.MaxVarintLen64 + len(e.Path) + 2 + 3*4 + 6*8 + 32 +
		binary.MaxVarintLen64 + len(e.Target) + binary.MaxVarintLen64 + len(e.Err) + binary.MaxVarintLen64
	for _, x := range e.Xattrs {
		size += binary.MaxVarintLen64 + len(x.Name) + 32
	}
	if len(h.chunks) == 0 || cap(h.chunks[len(h.chunks)-1])-len(h.chunks[len(h.chunks)-1]) < size {
		h.chunks = append(h.chunks, make([]byte, 0, max(heldChunk, size)))
	}
	c := &h.chunks[len(h.chunks)-1]
	at := len(*c)
	d := binary.AppendUvarint(*c, uint64(len(e.Path)))
	d = append(d, e.Path...)
	var flags byte
	if e.HasDigest() {
		flags |= heldDigest
	}
	if e.Target != "" {
		flags |= heldTarget
	}
	if len(e.Xattrs) > 0 {
		flags |= heldXattrs
	}
	if e.Err != "" {
		flags |= heldErr
	}
	d = append(d, byte(e.Type), flags)
	d = binary.LittleEndian.AppendUint32(d, e.Mode)
	d = binary.LittleEndian.AppendUint32(d, e.UID)
	d = binary.LittleEndian.AppendUint32(d, e.GID)
	for _, v := range [...]uint64{uint64(e.Size), uint64(e.Mtime), uint64(e.Ctime), e.Inode, e.Nlink, e.Rdev} {
		d = binary.LittleEndian.AppendUint64(d, v)
	}
	if flags&heldDigest != 0 {
		d = append(d, e.Digest[:]...)
	}
	if flags&heldTarget != 0 {
		d = appendHeldStr(d, e.Target)
	}
	if flags&heldXattrs != 0 {
		d = binary.AppendUvarint(d, uint64(len(e.Xattrs)))
		for _, x := range e.Xattrs {
			d = appendHeldStr(d, x.Name)
			d = append(d, x.Digest[:]...)
		}
	}
	if flags&heldErr != 0 {
		d = appendHeldStr(d, e.Err)
	}
	*c = d
	h.at = append(h.at, heldAt{chunk: int32(len(h.chunks) - 1), at: uint32(at)})
	h.tree.add(e.Path)
}

func appendHeldStr(d []byte, s string) []byte {
	d = binary.AppendUvarint(d, uint64(len(s)))
	return append(d, s...)
}

// heldStr reads a string at the start of d, sharing its bytes, and returns
// the rest of d.
func heldStr(d []byte) (string, []byte) {
	n, k := binary.Uvarint(d)
	return unsafe.String(unsafe.SliceData(d[k:]), n), d[k+int(n):]
}

// path is the path of the record at r: its own bytes.
func (h *held) path(r heldAt) string {
	path, _ := heldStr(h.chunks[r.chunk][r.at:])
	return path
}

// entry decodes the record r into e. Its strings share the record's bytes,
// which stay as long as h does.
func (h *held) entry(r heldAt, e *baseline.Entry) {
	path, d := heldStr(h.chunks[r.chunk][r.at:])
	str := func() (s string) {
		s, d = heldStr(d)
		return s
	}
	flags := d[1]
	*e = baseline.Entry{
		Path:  path,
		Type:  baseline.Type(d[0]),
		Mode:  binary.LittleEndian.Uint32(d[2:]),
		UID:   binary.LittleEndian.Uint32(d[6:]),
		GID:   binary.LittleEndian.Uint32(d[10:]),
		Size:  int64(binary.LittleEndian.Uint64(d[14:])),
		Mtime: int64(binary.LittleEndian.Uint64(d[22:])),
		Ctime: int64(binary.LittleEndian.Uint64(d[30:])),
		Inode: binary.LittleEndian.Uint64(d[38:]),
		Nlink: binary.LittleEndian.Uint64(d[46:]),
		Rdev:  binary.LittleEndian.Uint64(d[54:]),
	}
	d = d[62:]
	if flags&heldDigest != 0 {
		copy(e.Digest[:], d)
		d = d[32:]
	}
	if flags&heldTarget != 0 {
		e.Target = str()
	}
	if flags&heldXattrs != 0 {
		n, k := binary.Uvarint(d)
		d = d[k:]
		e.Xattrs = make([]baseline.Xattr, n)
		for i := range e.Xattrs {
			e.Xattrs[i].Name = str()
			copy(e.Xattrs[i].Digest[:], d)
			d = d[32:]
		}
	}
	if flags&heldErr != 0 {
		e.Err = str()
	}
}
