package manifest

import (
	"encoding/binary"
	"sync"

	"driftd/baseline"
)

// encodeEntries encodes the entries' metadata and digests, and hands the
// metadata to z as it goes. A large list is encoded in two halves at once,
// the second from the state the first ends in, and joined: the same bytes.
// Each half is a stream of z's of its own. The digests come as the halves'
// runs, to be written one after the other.
func encodeEntries(entries *baseline.Packed, z *compressor) (meta []byte, digests [][]byte) {
	n := entries.Len()
	first := entryEncoder{meta: make([]byte, 0, 48*n+16), digests: make([]byte, 0, 32*n), z: z.stream()}
	mid := n
	if n >= 1<<14 {
		mid = n / 2
	}
	var second entryEncoder
	var wg sync.WaitGroup
	if mid < n {
		last := entries.At(mid - 1)
		second = entryEncoder{meta: make([]byte, 0, 48*(n-mid)), prevPath: []byte(last.Path), prevMtime: last.Mtime, prevInode: last.Inode, z: z.stream()}
		wg.Go(func() { second.encode(entries, mid, n) })
	}
	first.encode(entries, 0, mid)
	wg.Wait()
	if mid == n {
		return first.meta, [][]byte{first.digests}
	}
	return append(first.meta, second.meta...), [][]byte{first.digests, second.digests}
}

// entryEncoder appends entries to the metadata and digests, each path and
// number by the one before.
type entryEncoder struct {
	meta, digests []byte
	prevPath      []byte
	prevMtime     int64
	prevInode     uint64
	z             *zstream // where meta goes, as it grows
}

// encode appends the entries lo to hi, handing the metadata to w.z as it
// goes.
func (w *entryEncoder) encode(entries *baseline.Packed, lo, hi int) {
	meta, digests := w.meta, w.digests
	str := func(s string) {
		meta = binary.AppendUvarint(meta, uint64(len(s)))
		meta = append(meta, s...)
	}
	entries.RangeBytes(lo, hi, func(_ int, path []byte, e *baseline.Entry) bool {
		shared := commonPrefix(w.prevPath, path)
		meta = binary.AppendUvarint(meta, uint64(shared))
		meta = binary.AppendUvarint(meta, uint64(len(path)-shared))
		meta = append(meta, path[shared:]...)
		var flags byte
		if e.Err != "" {
			flags |= flagErr
		}
		if len(e.Xattrs) > 0 {
			flags |= flagXattrs
		}
		meta = append(meta, byte(e.Type), flags)
		meta = binary.AppendUvarint(meta, uint64(e.Mode))
		meta = binary.AppendUvarint(meta, uint64(e.UID))
		meta = binary.AppendUvarint(meta, uint64(e.GID))
		meta = binary.AppendUvarint(meta, uint64(e.Size))
		meta = binary.AppendVarint(meta, e.Mtime-w.prevMtime)
		meta = binary.AppendVarint(meta, e.Ctime-e.Mtime)
		meta = binary.AppendVarint(meta, int64(e.Inode-w.prevInode))
		meta = binary.AppendUvarint(meta, e.Nlink)
		switch e.Type {
		case baseline.TypeRegular:
			if e.Err == "" {
				digests = append(digests, e.Digest[:]...)
			}
		case baseline.TypeSymlink:
			str(e.Target)
		case baseline.TypeCharDevice, baseline.TypeBlockDevice:
			meta = binary.AppendUvarint(meta, e.Rdev)
		}
		if flags&flagXattrs != 0 {
			meta = binary.AppendUvarint(meta, uint64(len(e.Xattrs)))
			for _, x := range e.Xattrs {
				str(x.Name)
				digests = append(digests, x.Digest[:]...)
			}
		}
		if flags&flagErr != 0 {
			str(e.Err)
		}
		w.prevPath = append(w.prevPath[:0], path...)
		w.prevMtime, w.prevInode = e.Mtime, e.Inode
		w.z.send(meta)
		return true
	})
	w.z.end(meta)
	w.meta, w.digests = meta, digests
}

// encodePackages appends the package inventory and the owners: each
// package's manager, name, version and architecture, then the owned
// entries as (entry index delta, package index) pairs.
func encodePackages(meta []byte, pkgs []baseline.Package, owners []int32) []byte {
	str := func(s string) {
		meta = binary.AppendUvarint(meta, uint64(len(s)))
		meta = append(meta, s...)
	}
	meta = binary.AppendUvarint(meta, uint64(len(pkgs)))
	for _, p := range pkgs {
		str(p.Manager)
		str(p.Name)
		str(p.Version)
		str(p.Arch)
	}
	n := 0
	for _, o := range owners {
		if o >= 0 {
			n++
		}
	}
	meta = binary.AppendUvarint(meta, uint64(n))
	prev := 0
	for i, o := range owners {
		if o >= 0 {
			meta = binary.AppendUvarint(meta, uint64(i-prev))
			meta = binary.AppendUvarint(meta, uint64(o))
			prev = i
		}
	}
	return meta
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
