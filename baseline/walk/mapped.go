package walk

import (
	"context"
	"runtime/debug"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// A large file is hashed from a mapping of it, a window at a time: read(2)
// copies every byte from the page cache into the worker's buffer before
// the hash reads it again, and on /usr, whose files of a mebibyte or more
// hold 4.2 of its 5.7 GB, that copy was an eighth of their hashing time.
// Below a mebibyte, mapping and unmapping cost more than the copy.
const (
	mapMinBytes = 1 << 20
	mapWindow   = 4 << 20 // what a worker has mapped at a time, so what it adds to the RSS
)

// mappedFiles counts the files hashed from a mapping, for the tests.
var mappedFiles atomic.Int64

// hashMapped digests the open regular file fd of the given size from
// mappings of it. It reports ok false, with nothing else, when the file is
// to be read with read(2) instead: it could not be mapped, it was cut
// short while mapped (which faults), or its size is not what it was. The
// read path then starts afresh and decides what to say of a file that
// changes.
func (b *workerBufs) hashMapped(ctx context.Context, fd int, size int64, limit *rateLimiter) (d [32]byte, errMsg string, ok bool) {
	var window []byte
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverFault(func() {
		unix.Munmap(window)
		d, errMsg, ok = [32]byte{}, "", false
	})
	b.h.Reset()
	for off := int64(0); off < size; off += mapWindow {
		n := min(size-off, mapWindow)
		var err error
		if window, err = unix.Mmap(fd, off, int(n), unix.PROT_READ, unix.MAP_SHARED); err != nil {
			return d, "", false
		}
		b.h.Write(window)
		unix.Munmap(window)
		window = nil
		if err := limit.wait(ctx, int(n)); err != nil {
			return d, "not read: " + err.Error(), true // the walk returns ctx's error
		}
	}
	if !sizeIs(fd, size) {
		return d, "", false
	}
	b.h.Sum(d[:0])
	mappedFiles.Add(1)
	return d, "", true
}

// recoverFault, deferred by a function that reads mappings with
// debug.SetPanicOnFault on, turns a fault (a file cut short while mapped)
// into a call of onFault, which unmaps and says the file is to be read
// again; any other panic goes on.
func recoverFault(onFault func()) {
	if r := recover(); r != nil {
		if _, fault := r.(interface{ Addr() uintptr }); !fault {
			panic(r)
		}
		onFault()
	}
}

// sizeIs reports whether the open file fd still has the size it was
// mapped with: one that moved is read again.
func sizeIs(fd int, size int64) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Size == size
}
