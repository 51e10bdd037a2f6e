package walk

import (
	"context"
	"hash"
	"runtime/debug"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"driftd/baseline"
	"driftd/baseline/sha256x2"
)

// Two large files are hashed side by side where the CPU can (sha256x2):
// one SHA-256 alone leaves the SHA unit waiting on each round's result,
// and on /usr, where files of 4 MiB or more hold 3.7 of its 6 GB, the hash
// is most of the walk.

// pairedFiles counts the files hashed side by side, for the tests.
var pairedFiles atomic.Int64

// afterMapTest, when set by a test, is called once both windows at off are
// mapped: it may change the files under the hash.
var afterMapTest func(off int64)

// pairs reports whether the walk hashes its big files two at a time.
func (w *Walker) pairs() bool {
	return w.Hash.String() == baseline.SHA256.String() && sha256x2.Available()
}

// hashBigPair records two large regular files, hashed side by side. A file
// the pair could not hash is hashed alone, as any.
func (wk *walk) hashBigPair(pathA, pathB string, bufs *workerBufs) {
	var fds [2]int
	var es [2]baseline.Entry
	var open [2]bool
	for i, path := range [2]string{pathA, pathB} {
		fds[i], es[i], open[i] = wk.openBig(path)
	}
	var d [2][32]byte
	var errMsg string
	var ok [2]bool
	if open[0] && open[1] {
		d, errMsg, ok = hashPair(wk.ctx, fds, [2]int64{es[0].Size, es[1].Size}, wk.limiter)
	}
	for i := range es {
		if open[i] {
			if ok[i] {
				es[i].Digest, es[i].Err = d[i], errMsg
				wk.hashed(fds[i], &es[i], bufs)
			} else {
				wk.readOpened(fds[i], &es[i], bufs)
			}
			unix.Close(fds[i])
		}
		if es[i].Type != 0 || es[i].Err != "" {
			bufs.record(wk.w.Progress, es[i])
		}
	}
}

// hashPair digests two open regular files of the given sizes from
// mappings, a window of each at a time: while both have whole windows,
// their SHA-256s run together; then crypto/sha256 finishes each. ok[i]
// false, with nothing else, says file i is to be hashed alone: a file
// could not be mapped, was cut short while mapped (which faults, and
// fails both), or its size is not what it was. errMsg is for both.
func hashPair(ctx context.Context, fds [2]int, sizes [2]int64, limit *rateLimiter) (d [2][32]byte, errMsg string, ok [2]bool) {
	var windows [2][]byte
	unmap := func() {
		for i, w := range windows {
			if w != nil {
				unix.Munmap(w)
				windows[i] = nil
			}
		}
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverFault(func() {
		unmap()
		d, errMsg, ok = [2][32]byte{}, "", [2]bool{}
	})
	lanes := [2]sha256x2.Digest{sha256x2.New(), sha256x2.New()}
	var hs [2]hash.Hash // nil while the two run together
	for off := int64(0); off < max(sizes[0], sizes[1]); off += mapWindow {
		n := 0
		for i := range windows {
			if off >= sizes[i] {
				continue
			}
			var err error
			if windows[i], err = unix.Mmap(fds[i], off, int(min(sizes[i]-off, mapWindow)), unix.PROT_READ, unix.MAP_SHARED); err != nil {
				unmap()
				return d, "", [2]bool{}
			}
			n += len(windows[i])
		}
		if afterMapTest != nil {
			afterMapTest(off)
		}
		if hs[0] == nil {
			k := min(len(windows[0]), len(windows[1])) &^ (sha256x2.BlockSize - 1)
			sha256x2.Blocks2(&lanes[0], &lanes[1], windows[0][:k], windows[1][:k])
			if k < mapWindow { // a file's last window: the two part here
				for i := range hs {
					hs[i] = lanes[i].Resume()
					hs[i].Write(windows[i][k:])
				}
			}
		} else {
			for i := range hs {
				hs[i].Write(windows[i])
			}
		}
		unmap()
		if err := limit.wait(ctx, n); err != nil {
			return d, "not read: " + err.Error(), [2]bool{true, true} // the walk returns ctx's error
		}
	}
	if hs[0] == nil { // both ended at a window's edge
		for i := range hs {
			hs[i] = lanes[i].Resume()
		}
	}
	for i, fd := range fds {
		if sizeIs(fd, sizes[i]) {
			hs[i].Sum(d[i][:0])
			ok[i] = true
			pairedFiles.Add(1)
		}
	}
	return d, "", ok
}
