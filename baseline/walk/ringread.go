package walk

import (
	"sync/atomic"

	"golang.org/x/sys/unix"

	"driftd/baseline"
	"driftd/baseline/walk/uring"
)

// Reading a small file costs more in system calls than in copying: open,
// fstat, read, flistxattr and close, each a trip into the kernel that,
// on a virtual machine, costs as much as hashing a few kilobytes. A
// worker's ring takes the read and the close of each small file of a
// directory and does them for the whole batch in two calls.
const (
	ringEntries  = 128
	ringArena    = 1 << 20  // the batch's read buffers, one allocation per worker
	ringMaxBytes = 64 << 10 // larger files are read with read(2): their cost is the copy
)

// noRing is set once the kernel has refused a ring (too old, disabled by
// kernel.io_uring_disabled, or a seccomp profile) or a ring broke: from
// then on every file is read with plain system calls. A ring that could
// not be had for want of descriptors or memory is tried again with the
// worker's next small file. Tests set it to walk both ways.
var noRing atomic.Bool

// ringFiles counts the files whose content the ring read, for the tests.
var ringFiles atomic.Int64

// ringReads is a worker's ring and the files of its batch.
type ringReads struct {
	ring  *uring.Ring
	arena []byte // a mapping of its own: the kernel writes into it, and should the ring break it is never reused
	used  int    // bytes of arena taken by files
	files []ringFile
}

// ringFile is a small regular file opened, stat'ed and its xattrs read,
// already recorded in the worker's batch, whose content the ring reads
// into buf.
type ringFile struct {
	entry    int // in the worker's batch
	fd       int
	buf      []byte // size+1 bytes of the arena: a read that fills it found the file grown
	n        int32  // the read's result: bytes, or -errno
	xattrs   []baseline.Xattr
	xattrErr string
}

// queueRead leaves the content of the open regular file of e to the
// worker's ring, flushing the batch first when it is full. It reports
// false, having done nothing, when the file is to be read with read(2).
func (wk *walk) queueRead(fd int, e *baseline.Entry, bufs *workerBufs) bool {
	if e.Size >= ringMaxBytes || noRing.Load() {
		return false
	}
	rr := bufs.ring
	if rr == nil {
		ring, err := uring.New(ringEntries)
		if err != nil {
			if uring.Refused(err) {
				noRing.Store(true)
			}
			return false
		}
		arena, err := unix.Mmap(-1, 0, ringArena, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			ring.Close()
			return false
		}
		rr = &ringReads{ring: ring, arena: arena}
		bufs.ring = rr
	}
	need := int(e.Size) + 1
	if rr.used+need > len(rr.arena) || len(rr.files) == ringEntries {
		wk.flushReads(bufs)
		if rr = bufs.ring; rr == nil {
			return false // the flush broke the ring
		}
	}
	buf := rr.arena[rr.used : rr.used+need : rr.used+need]
	if err := rr.ring.Read(fd, buf, uint64(len(rr.files))); err != nil {
		return false // full of closes not yet sent: read this one with read(2)
	}
	rr.used += need
	xattrs, xattrErr := bufs.xattrsFd(fd)
	rr.files = append(rr.files, ringFile{entry: len(bufs.batch), fd: fd, buf: buf, xattrs: xattrs, xattrErr: xattrErr})
	bufs.record(wk.w.Progress, *e) // its digest is filled in by flushReads
	return true
}

// flushReads reads the batch's files through the ring, fills in their
// entries' digests and xattrs, and closes them through the ring. A read
// the ring did not complete as expected (an error, or a size other than
// fstat's) is done again with read(2), which knows what to do about a file
// that changes while read.
func (wk *walk) flushReads(bufs *workerBufs) {
	rr := bufs.ring
	if rr == nil || len(rr.files) == 0 {
		return
	}
	for i := range rr.files {
		rr.files[i].n = -1
	}
	readErr := rr.ring.Run(func(tag uint64, res int32) { rr.files[tag].n = res })
	for i := range rr.files {
		f := &rr.files[i]
		e := &bufs.batch[f.entry]
		if int64(f.n) == e.Size {
			ringFiles.Add(1)
			e.Digest = bufs.alg.Sum(f.buf[:f.n])
			if err := wk.limiter.wait(wk.ctx, int(e.Size)); err != nil {
				e.Err = "not read: " + err.Error() // the walk returns ctx's error
			} else if p := wk.w.Progress; p != nil {
				p.Bytes.Add(e.Size)
			}
		} else {
			e.Err = bufs.hash(wk.ctx, f.fd, e, wk.limiter)
		}
		if e.Err == "" {
			e.Xattrs, e.Err = f.xattrs, f.xattrErr
		}
	}
	if readErr != nil {
		// The reads still in flight hold their files: closing the
		// descriptors here is safe, reusing the arena is not.
		for i := range rr.files {
			unix.Close(rr.files[i].fd)
		}
		bufs.dropRing()
		return
	}
	wk.closeBatch(rr)
	if rr.ring.Broken() {
		bufs.dropRing()
	}
}

// closeBatch closes the batch's files through the ring and empties it.
// Should the ring fail, a descriptor whose close it did not confirm is
// left open: the close may yet happen, and a second one could close a
// descriptor opened since under the same number.
func (wk *walk) closeBatch(rr *ringReads) {
	for i := range rr.files {
		if rr.ring.CloseFd(rr.files[i].fd, 0) != nil {
			unix.Close(rr.files[i].fd) // not queued: cannot happen, the batch fits the ring
		}
	}
	rr.ring.Run(func(uint64, int32) {})
	rr.files, rr.used = rr.files[:0], 0
}

// dropRing closes the worker's ring, if it has one. A broken ring also
// turns the ring off for the rest of the process.
func (b *workerBufs) dropRing() {
	if b.ring == nil {
		return
	}
	if b.ring.ring.Broken() {
		noRing.Store(true) // and the arena stays mapped: reads may be in flight
	} else {
		unix.Munmap(b.ring.arena)
	}
	b.ring.ring.Close()
	b.ring = nil
}
