package baseline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
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

// Pack packs entries sorted by path, as Walk and SortEntries give them.
// It panics on entries out of order: that is a bug in the caller.
func Pack(entries []Entry) *Packed {
	var pk Packer
	for i := range entries {
		if err := pk.Add(&entries[i]); err != nil {
			panic(err)
		}
	}
	return pk.Packed()
}

// PackFunc packs n entries in path order, entry(i, e) filling in the
// i-th, in up to parts runs of whole blocks packed side by side and then
// joined: packing a million entries took a core a quarter of a second at
// the end of a bake, with the other one idle. entry is called from as
// many goroutines at once.
func PackFunc(n, parts int, entry func(i int, e *Entry)) (*Packed, error) {
	if n < 1<<14 {
		parts = 1
	}
	parts = max(parts, 1)
	per := (n/parts + PackBlock) / PackBlock * PackBlock // a whole number of blocks
	type run struct {
		p    *Packed
		last string // its last path
		err  error
	}
	runs := make([]run, (n+per-1)/max(per, 1))
	var wg sync.WaitGroup
	for k := range runs {
		wg.Go(func() {
			var pk Packer
			lo, hi := k*per, min(n, (k+1)*per)
			pk.Grow(hi - lo)
			var e Entry
			for i := lo; i < hi; i++ {
				entry(i, &e)
				if err := pk.Add(&e); err != nil {
					runs[k].err = err
					return
				}
			}
			runs[k].last = string(pk.path)
			runs[k].p = &pk.p // not trimmed: it is copied into the whole
		})
	}
	wg.Wait()
	if len(runs) == 1 {
		if runs[0].err != nil {
			return nil, runs[0].err
		}
		p := *runs[0].p
		p.data, p.digests = clipBytes(p.data), clipBytes(p.digests)
		return &p, nil
	}
	// The runs are joined into slabs of the exact size, each run copied
	// once: grown by append, the slabs were copied twice and had a third
	// more room than they used.
	var data, digests, blocks int
	for k, r := range runs {
		if r.err != nil {
			return nil, r.err
		}
		if k > 0 {
			if first := r.p.firstPath(0); first <= runs[k-1].last {
				return nil, fmt.Errorf("pack: %q does not sort after %q", first, runs[k-1].last)
			}
		}
		data, digests, blocks = data+len(r.p.data), digests+len(r.p.digests), blocks+len(r.p.blocks)
	}
	out := &Packed{
		data:     make([]byte, 0, data),
		digests:  make([]byte, 0, digests),
		blocks:   make([]uint32, 0, blocks),
		digestAt: make([]uint32, 0, blocks),
	}
	for _, r := range runs {
		out.join(r.p)
	}
	return out, nil
}

// join appends q, whose first block follows p's last, a full one.
func (p *Packed) join(q *Packed) {
	dataAt, digestsAt := uint32(len(p.data)), uint32(len(p.digests)/32)
	p.data = append(p.data, q.data...)
	p.digests = append(p.digests, q.digests...)
	for b := range q.blocks {
		p.blocks = append(p.blocks, dataAt+q.blocks[b])
		p.digestAt = append(p.digestAt, digestsAt+q.digestAt[b])
	}
	p.n += q.n
	c, d := &p.counts, q.counts
	c.Entries, c.Files, c.Dirs, c.Bytes, c.Errors = c.Entries+d.Entries, c.Files+d.Files, c.Dirs+d.Dirs, c.Bytes+d.Bytes, c.Errors+d.Errors
}

// Packer builds a Packed from entries added in path order.
type Packer struct {
	p        Packed
	path     []byte // the last path added
	mtime    int64
	inode    uint64
	inBlock  int
	nDigests int
}

// Grow sizes the packer for n more entries.
func (pk *Packer) Grow(n int) {
	pk.p.data = growBytes(pk.p.data, 40*n)
	pk.p.digests = growBytes(pk.p.digests, 32*n)
}

func growBytes(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}

// Add appends e, whose path must sort after the last one added.
func (pk *Packer) Add(e *Entry) error {
	shared, err := pk.start(e)
	if err != nil {
		return err
	}
	d := pk.p.data
	d = binary.AppendUvarint(d, uint64(shared))
	d = appendStr(d, e.Path[shared:])
	var flags byte
	if e.Err != "" {
		flags |= packErr
	}
	if len(e.Xattrs) > 0 {
		flags |= packXattrs
	}
	d = append(d, byte(e.Type), flags)
	d = binary.AppendUvarint(d, uint64(e.Mode))
	d = binary.AppendUvarint(d, uint64(e.UID))
	d = binary.AppendUvarint(d, uint64(e.GID))
	d = binary.AppendUvarint(d, uint64(e.Size))
	d = binary.AppendVarint(d, e.Mtime-pk.mtime)
	d = binary.AppendVarint(d, e.Ctime-e.Mtime)
	d = binary.AppendVarint(d, int64(e.Inode-pk.inode))
	d = binary.AppendUvarint(d, e.Nlink)
	switch e.Type {
	case TypeSymlink:
		d = appendStr(d, e.Target)
	case TypeCharDevice, TypeBlockDevice:
		d = binary.AppendUvarint(d, e.Rdev)
	}
	if flags&packXattrs != 0 {
		d = binary.AppendUvarint(d, uint64(len(e.Xattrs)))
		for _, x := range e.Xattrs {
			d = appendStr(d, x.Name)
		}
	}
	if flags&packErr != 0 {
		d = appendStr(d, e.Err)
	}
	pk.p.data = d
	pk.finish(e)
	return nil
}

// AddRecord is Add for an entry whose record is at hand: record must be
// e's, encoded where Add would put it, as a manifest of format 4 holds
// them (every PackBlock-th one starting afresh). It is copied as it is,
// not encoded again: that was a third of loading a baseline.
func (pk *Packer) AddRecord(e *Entry, record []byte) error {
	if _, err := pk.start(e); err != nil {
		return err
	}
	pk.p.data = append(pk.p.data, record...)
	pk.finish(e)
	return nil
}

// start begins the record of e, a block if one is full, and returns how
// many bytes of the last path its path shares in the record.
func (pk *Packer) start(e *Entry) (shared int, err error) {
	p := &pk.p
	if p.n > 0 && bytesString(pk.path) >= e.Path {
		return 0, fmt.Errorf("pack: %q does not sort after %q", e.Path, pk.path)
	}
	if pk.inBlock == PackBlock || p.n == 0 {
		pk.inBlock, pk.mtime, pk.inode = 0, 0, 0
		p.blocks = append(p.blocks, uint32(len(p.data)))
		p.digestAt = append(p.digestAt, uint32(pk.nDigests))
	} else {
		shared = commonPrefix(pk.path, e.Path)
	}
	pk.inBlock++
	p.n++
	return shared, nil
}

// finish adds e's digests and counts, once its record is written.
func (pk *Packer) finish(e *Entry) {
	p := &pk.p
	if e.Type == TypeRegular && e.Err == "" {
		p.digests = append(p.digests, e.Digest[:]...)
		pk.nDigests++
	}
	for _, x := range e.Xattrs {
		p.digests = append(p.digests, x.Digest[:]...)
		pk.nDigests++
	}
	pk.path = append(pk.path[:0], e.Path...)
	pk.mtime, pk.inode = e.Mtime, e.Inode

	c := &p.counts
	c.Entries++
	switch e.Type {
	case TypeRegular:
		c.Files++
		c.Bytes += e.Size
	case TypeDir:
		c.Dirs++
	}
	if e.Err != "" {
		c.Errors++
	}
}

// Packed returns what was added, trimmed to size. The packer is spent.
func (pk *Packer) Packed() *Packed {
	p := pk.p
	p.data = clipBytes(p.data)
	p.digests = clipBytes(p.digests)
	pk.p = Packed{}
	return &p
}

// clipBytes copies b to a slice of its own length when that saves a
// quarter or more: a grown slice can have twice the room it needs.
func clipBytes(b []byte) []byte {
	if cap(b)-len(b) < len(b)/4 {
		return b
	}
	return append([]byte(nil), b...)
}

func appendStr(d []byte, s string) []byte {
	d = binary.AppendUvarint(d, uint64(len(s)))
	return append(d, s...)
}

func commonPrefix(a []byte, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
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
