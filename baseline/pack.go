package baseline

import (
	"encoding/binary"
	"fmt"
	"sync"
)

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
