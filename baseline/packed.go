package baseline

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unsafe"
)

// Packed is a sorted list of entries held the way a daemon can afford to
// hold a million of them: each path stored as what it adds to the one
// before, numbers as varints and deltas, the rare fields (symlink target,
// device, xattrs, error) only where they occur, and the 32-byte digests in
// one slab. An Entry is about 200 bytes plus its path; a packed one is
// about 70 with its digest. Entries are decoded on demand; a Packed is
// never changed once built, so any number of goroutines may read it.
//
// The records come in blocks of PackBlock. Each block starts afresh (no
// shared prefix, no deltas), so an entry is found by a binary search on the
// blocks' first paths and a scan of at most one block.
type Packed struct {
	n        int
	counts   Counts
	data     []byte   // the records
	blocks   []uint32 // per block: offset of its first record in data
	digestAt []uint32 // per block: index in digests of its first digest
	digests  []byte   // 32 bytes each: contents, then xattrs, in entry order
}

// PackBlock is the number of records per block: the longest scan a lookup
// makes, against the full paths (and index words) each block start costs.
// A manifest stores the records as they are, so changing it changes the
// manifest format.
const PackBlock = 16

// Record flags.
const (
	packErr    = 1 << 0
	packXattrs = 1 << 1
)

// Len is the number of entries.
func (p *Packed) Len() int {
	if p == nil {
		return 0
	}
	return p.n
}

// Counts summarises the entries.
func (p *Packed) Counts() Counts {
	if p == nil {
		return Counts{}
	}
	return p.counts
}

// Records are the packed entries as bytes, for a manifest to store as
// they are: each record as Packer writes it (the path as what it adds to
// the one before; type and flags; mode, owner, group, size, mtime as a
// delta, ctime from mtime, inode as a delta, links; then the target, the
// device, the xattr names and the error where they occur), every
// PackBlock-th one starting afresh; and the digests, in entry order. They
// are p's own, not to be changed.
func (p *Packed) Records() (records, digests []byte) {
	if p == nil {
		return nil, nil
	}
	return p.data[:len(p.data):len(p.data)], p.digests[:len(p.digests):len(p.digests)]
}

// Bytes is the memory the packed entries hold.
func (p *Packed) Bytes() int {
	if p == nil {
		return 0
	}
	return cap(p.data) + 4*cap(p.blocks) + 4*cap(p.digestAt) + cap(p.digests)
}

// cursor decodes the records of one block in order.
type cursor struct {
	p      *Packed
	data   []byte // the records left
	i      int    // index of the next record
	mtime  int64
	inode  uint64
	digest int // index of the next digest
}

// seek puts the cursor at the start of block b.
func (c *cursor) seek(p *Packed, b int) {
	c.p, c.i, c.digest = p, b*PackBlock, int(p.digestAt[b])
	c.data = p.data[p.blocks[b]:]
	c.mtime, c.inode = 0, 0
}

func (c *cursor) uvarint() uint64 {
	v, n := binary.Uvarint(c.data)
	c.data = c.data[n:]
	return v
}

func (c *cursor) varint() int64 {
	v, n := binary.Varint(c.data)
	c.data = c.data[n:]
	return v
}

func (c *cursor) str() []byte {
	n := c.uvarint()
	s := c.data[:n]
	c.data = c.data[n:]
	return s
}

// nextPath reads the next record's path onto path, the one before it,
// leaving the cursor on the record's fields. (The path is the caller's, not
// the cursor's, so that a small one stays on the caller's stack.)
func (c *cursor) nextPath(path []byte) []byte {
	if c.i%PackBlock == 0 {
		c.mtime, c.inode = 0, 0 // a block starts afresh
	}
	shared := c.uvarint()
	return append(path[:shared], c.str()...)
}

// fields decodes the rest of the record whose path nextPath read into e
// (all of it, when e is not nil), and moves to the next record.
func (c *cursor) fields(e *Entry) {
	typ, flags := Type(c.data[0]), c.data[1]
	c.data = c.data[2:]
	mode, uid, gid, size := c.uvarint(), c.uvarint(), c.uvarint(), c.uvarint()
	mtime := c.mtime + c.varint()
	ctime := mtime + c.varint()
	inode := c.inode + uint64(c.varint())
	nlink := c.uvarint()
	c.mtime, c.inode = mtime, inode
	if e != nil {
		*e = Entry{Type: typ, Mode: uint32(mode), UID: uint32(uid), GID: uint32(gid), Size: int64(size),
			Mtime: mtime, Ctime: ctime, Inode: inode, Nlink: nlink}
	}
	switch typ {
	case TypeSymlink:
		t := c.str()
		if e != nil {
			e.Target = string(t)
		}
	case TypeCharDevice, TypeBlockDevice:
		rdev := c.uvarint()
		if e != nil {
			e.Rdev = rdev
		}
	case TypeRegular:
		if flags&packErr == 0 {
			if e != nil {
				copy(e.Digest[:], c.p.digests[32*c.digest:])
			}
			c.digest++
		}
	}
	if flags&packXattrs != 0 {
		n := int(c.uvarint())
		if e != nil {
			e.Xattrs = make([]Xattr, n)
		}
		for k := range n {
			name := c.str()
			if e != nil {
				e.Xattrs[k].Name = string(name)
				copy(e.Xattrs[k].Digest[:], c.p.digests[32*c.digest:])
			}
			c.digest++
		}
	}
	if flags&packErr != 0 {
		msg := c.str()
		if e != nil {
			e.Err = string(msg)
		}
	}
	c.i++
}

// At decodes entry i.
func (p *Packed) At(i int) Entry {
	var c cursor
	var buf [256]byte
	path := buf[:0]
	c.seek(p, i/PackBlock)
	for c.i < i {
		path = c.nextPath(path)
		c.fields(nil)
	}
	var e Entry
	path = c.nextPath(path)
	c.fields(&e)
	e.Path = string(path)
	return e
}

// Find returns the index of path's entry, or where it would go, and
// whether there is one.
func (p *Packed) Find(path string) (int, bool) {
	i, found, _ := p.lookup(path, false)
	return i, found
}

// Lookup returns path's entry and its index. The entry's Path is the
// caller's string, so a lookup allocates nothing for it.
func (p *Packed) Lookup(path string) (Entry, int, bool) {
	i, found, e := p.lookup(path, true)
	if found {
		e.Path = path
	}
	return e, i, found
}

func (p *Packed) lookup(path string, decode bool) (int, bool, Entry) {
	if p.Len() == 0 {
		return 0, false, Entry{}
	}
	lo := p.blockOf(path) + 1
	if lo == 0 {
		return 0, false, Entry{}
	}
	var c cursor
	var buf [256]byte
	cur := buf[:0]
	c.seek(p, lo-1)
	end := min(c.i+PackBlock, p.n)
	for c.i < end {
		cur = c.nextPath(cur)
		switch cmp := bytes.Compare(cur, stringBytes(path)); {
		case cmp == 0:
			i := c.i
			var e Entry
			if decode {
				c.fields(&e)
			}
			return i, true, e
		case cmp > 0:
			return c.i, false, Entry{}
		}
		c.fields(nil)
	}
	return end, false, Entry{}
}

// PrefixRange is the run [lo, hi) of entries whose paths start with
// prefix: every path below a directory, for prefix "dir/".
func (p *Packed) PrefixRange(prefix string) (lo, hi int) {
	lo, _ = p.Find(prefix)
	hi = p.Len()
	// The least string after every one that starts with prefix; there is
	// none for a prefix of 0xff bytes.
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			hi, _ = p.Find(prefix[:i] + string([]byte{prefix[i] + 1}))
			break
		}
	}
	return lo, hi
}

// blockOf is the last block whose first path is at most path, or -1.
func (p *Packed) blockOf(path string) int {
	lo, hi := 0, len(p.blocks)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if strings.Compare(p.firstPath(mid), path) <= 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo - 1
}

// firstPath is the path of block b's first record, which is stored whole;
// the string shares the record's bytes.
func (p *Packed) firstPath(b int) string {
	d := p.data[p.blocks[b]:]
	_, n := binary.Uvarint(d) // shared: 0
	d = d[n:]
	l, n := binary.Uvarint(d)
	d = d[n:]
	return unsafe.String(unsafe.SliceData(d), l)
}

// Range calls f with each entry from index lo up to hi, in order, until f
// returns false. The entry is reused between calls (its strings are not):
// copy it to keep it.
func (p *Packed) Range(lo, hi int, f func(i int, e *Entry) bool) {
	p.RangeBytes(lo, hi, func(i int, path []byte, e *Entry) bool {
		e.Path = string(path)
		return f(i, e)
	})
}

// RangeBytes is Range with each path as bytes that are only f's until it
// returns, and e.Path left empty: for a pass over every entry that keeps
// none of the paths (encoding a manifest), a string each is a million
// allocations.
func (p *Packed) RangeBytes(lo, hi int, f func(i int, path []byte, e *Entry) bool) {
	if lo >= hi {
		return
	}
	var c cursor
	var buf [256]byte
	path := buf[:0]
	c.seek(p, lo/PackBlock)
	for c.i < lo {
		path = c.nextPath(path)
		c.fields(nil)
	}
	var e Entry
	for c.i < hi {
		path = c.nextPath(path)
		i := c.i
		c.fields(&e)
		if !f(i, path, &e) {
			return
		}
	}
}

// All calls f with every entry in order; see Range.
func (p *Packed) All(f func(i int, e *Entry) bool) { p.Range(0, p.Len(), f) }

// Unpack decodes every entry.
func (p *Packed) Unpack() []Entry {
	out := make([]Entry, 0, p.Len())
	p.All(func(_ int, e *Entry) bool {
		out = append(out, *e)
		return true
	})
	return out
}

// bytesString is b as a string for a comparison, without a copy: b must
// not change while the string is in use.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// stringBytes is s as bytes for a comparison, without a copy: the bytes
// must not be written.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
