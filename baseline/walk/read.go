package walk

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"driftd/baseline"
)

// workerBufs are one worker's reusable buffers and hasher, and the batch of
// entries its current job has recorded.
type workerBufs struct {
	batch []baseline.Entry
	read  []byte
	xattr []byte
	link  []byte
	dir   []byte   // getdents buffer
	dents []dirent // the listing of the directory at hand
	names []byte   // its names, each followed by a NUL: the dents' names are in it
	alg   baseline.Hash
	h     hash.Hash  // alg's
	ring  *ringReads // nil until the worker's first small file
}

// bufPool keeps workers' buffers between walks: the daemon walks one path
// at a time on every change, and 140 KiB of fresh buffers per path made a
// storm of changes a storm of garbage.
var bufPool = sync.Pool{New: func() any { return newWorkerBufs(baseline.SHA256) }}

func newWorkerBufs(alg baseline.Hash) *workerBufs {
	return &workerBufs{
		read:  make([]byte, 128<<10),
		xattr: make([]byte, 4<<10),
		link:  make([]byte, unix.PathMax),
		dir:   make([]byte, 32<<10),
		alg:   alg,
		h:     alg.New(),
	}
}

// getBufs takes a worker's buffers from the pool, hashing with alg.
func getBufs(alg baseline.Hash) *workerBufs {
	b := bufPool.Get().(*workerBufs)
	if b.alg.String() != alg.String() {
		b.alg, b.h = alg, alg.New()
	}
	return b
}

// hash digests the open regular file of e into e.Digest, from a mapping
// when it is large. A file whose length is not e's while it is read is
// read once more, and e takes the fstat that read starts from: a digest is
// recorded beside the size and times of the content it is of, never those
// of an earlier moment. A second change is an error: never a wrong digest.
func (b *workerBufs) hash(ctx context.Context, fd int, e *baseline.Entry, limit *rateLimiter) (errMsg string) {
	if e.Size >= mapMinBytes {
		if d, errMsg, ok := b.hashMapped(ctx, fd, e.Size, limit); ok {
			e.Digest = d
			return errMsg
		}
	}
	for try := 0; ; try++ {
		b.h.Reset()
		var n int64
		for {
			k, err := unix.Read(fd, b.read)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return "read: " + err.Error()
			}
			if k == 0 {
				break
			}
			b.h.Write(b.read[:k])
			n += int64(k)
			if err := limit.wait(ctx, k); err != nil {
				return "not read: " + err.Error() // the walk returns ctx's error
			}
			if k < len(b.read) && n >= e.Size {
				break // a short read at the expected size is the end: saves a read per file
			}
		}
		if n == e.Size {
			b.h.Sum(e.Digest[:0])
			return ""
		}
		if try == 1 {
			return "changed while being read"
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return "fstat: " + err.Error()
		}
		if _, err := unix.Seek(fd, 0, 0); err != nil {
			return "seek: " + err.Error()
		}
		*e = entryFromStat(e.Path, &st)
	}
}

// readDir lists the open directory fd, leaving out "." and "..". The
// result, names included, is the worker's until its next listing: the
// names are not a string each, and a file is opened by the name as it is.
func (b *workerBufs) readDir(fd int) ([]dirent, error) {
	b.dents, b.names = b.dents[:0], b.names[:0]
	for {
		n, err := unix.Getdents(fd, b.dir)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return b.dents, nil
		}
		// struct linux_dirent64: ino u64, off s64, reclen u16, type u8,
		// then the name, NUL-terminated and padded.
		for buf := b.dir[:n]; len(buf) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(buf[16:18]))
			if reclen < 19 || reclen > len(buf) {
				return nil, fmt.Errorf("getdents: malformed record")
			}
			name := buf[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if string(name) != "." && string(name) != ".." {
				b.addName(name, buf[18])
			}
			buf = buf[reclen:]
		}
	}
}

// one is the listing of one name, whose type is not known.
func (b *workerBufs) one(name string) []dirent {
	b.dents, b.names = b.dents[:0], b.names[:0]
	b.addName([]byte(name), unix.DT_UNKNOWN)
	return b.dents
}

// addName adds a name to the listing. Should names grow, the names
// already listed stay where they are, in the old buffer.
func (b *workerBufs) addName(name []byte, dtype byte) {
	at := len(b.names)
	b.names = append(append(b.names, name...), 0)
	b.dents = append(b.dents, dirent{name: unsafe.String(&b.names[at], len(name)), cname: &b.names[at], dtype: dtype})
}

func (b *workerBufs) readlink(dirfd int, name string) (string, string) {
	n, err := unix.Readlinkat(dirfd, name, b.link)
	if err != nil {
		return "", "readlink: " + err.Error()
	}
	return string(b.link[:n]), ""
}

func (b *workerBufs) xattrsFd(fd int) ([]baseline.Xattr, string) {
	return b.xattrs(
		func(buf []byte) (int, error) { return unix.Flistxattr(fd, buf) },
		func(name string, buf []byte) (int, error) { return unix.Fgetxattr(fd, name, buf) })
}

// xattrsPath reads the xattrs of path without following a final symlink.
func (b *workerBufs) xattrsPath(path string) ([]baseline.Xattr, string) {
	return b.xattrs(
		func(buf []byte) (int, error) { return unix.Llistxattr(path, buf) },
		func(name string, buf []byte) (int, error) { return unix.Lgetxattr(path, name, buf) })
}

// xattrs lists the attributes and digests their values, sorted by name.
func (b *workerBufs) xattrs(list func([]byte) (int, error), get func(string, []byte) (int, error)) ([]baseline.Xattr, string) {
	n, err := growing(&b.xattr, list)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.ENOENT) {
			return nil, ""
		}
		return nil, "list xattrs: " + err.Error()
	}
	if n == 0 {
		return nil, ""
	}
	names := strings.Split(strings.TrimSuffix(string(b.xattr[:n]), "\x00"), "\x00")
	slices.Sort(names)
	out := make([]baseline.Xattr, 0, len(names))
	for _, name := range names {
		var val []byte
		k, err := growing(&val, func(buf []byte) (int, error) { return get(name, buf) })
		if errors.Is(err, unix.ENODATA) {
			continue // removed between list and get
		}
		if err != nil {
			return nil, fmt.Sprintf("read xattr %s: %v", name, err)
		}
		out = append(out, baseline.Xattr{Name: name, Digest: b.alg.Sum(val[:k])})
	}
	return out, ""
}

// growing calls f with *buf, growing the buffer while the kernel says it is
// too small.
func growing(buf *[]byte, f func([]byte) (int, error)) (int, error) {
	if len(*buf) == 0 {
		*buf = make([]byte, 256)
	}
	for {
		n, err := f(*buf)
		if errors.Is(err, unix.ERANGE) && len(*buf) < 1<<24 {
			*buf = make([]byte, 2*len(*buf))
			continue
		}
		return n, err
	}
}

// rateLimiter spaces reads out to a rate in bytes per second, across all
// workers. A nil limiter does not limit.
type rateLimiter struct {
	rate float64
	mu   sync.Mutex
	next time.Time // when the bytes granted so far are paid for
}

func (l *rateLimiter) wait(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	l.next = l.next.Add(time.Duration(float64(n) / l.rate * float64(time.Second)))
	d := l.next.Sub(now)
	l.mu.Unlock()
	if d <= time.Millisecond {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
