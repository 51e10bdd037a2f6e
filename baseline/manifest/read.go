package manifest

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
)

// inflater inflates the metadata on a goroutine of its own while the
// reader decodes what has come out so far: loading a baseline of a million
// entries, inflating took a third of the time and decoding the rest, one
// after the other on one core.
type inflater struct {
	buf  []byte // the payload: the header says how long
	stop atomic.Bool

	mu    sync.Mutex
	grown *sync.Cond // ready moved or the goroutine ended
	ready int        // bytes of buf inflated, which are not written again
	ended bool
	err   error // why it ended before buf was full, or found more
}

// inflateStep is how much is inflated between two reports of progress.
const inflateStep = 256 << 10

// maxDeflateRatio bounds what deflate can expand to: 258 bytes from a
// code of one bit, at best. A header that says more is not to be
// believed, nor the memory it asks for.
const maxDeflateRatio = 1032

// inflate starts inflating zdata, which must give exactly size bytes.
// close stops it.
func inflate(zdata []byte, size int64) (*inflater, error) {
	if size < 0 || size > math.MaxInt32 || size > int64(len(zdata))*maxDeflateRatio+64 {
		return nil, fmt.Errorf("%w: payload of %d bytes from %d compressed", ErrCorrupt, size, len(zdata))
	}
	f := &inflater{buf: make([]byte, size)}
	f.grown = sync.NewCond(&f.mu)
	go func() {
		err := f.run(flate.NewReader(bytes.NewReader(zdata)))
		f.mu.Lock()
		f.ended, f.err = true, err
		f.grown.Broadcast()
		f.mu.Unlock()
	}()
	return f, nil
}

func (f *inflater) run(zr io.Reader) error {
	n := 0
	for n < len(f.buf) && !f.stop.Load() {
		k, err := io.ReadFull(zr, f.buf[n:min(n+inflateStep, len(f.buf))])
		n += k
		f.mu.Lock()
		f.ready = n
		f.grown.Broadcast()
		f.mu.Unlock()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fmt.Errorf("payload is %d bytes, header says %d", n, len(f.buf))
		}
		if err != nil {
			return fmt.Errorf("payload: %v", err)
		}
	}
	if f.stop.Load() {
		return nil
	}
	if k, err := zr.Read(make([]byte, 1)); k > 0 {
		return fmt.Errorf("payload is longer than the %d bytes the header says", len(f.buf))
	} else if err != nil && err != io.EOF {
		return fmt.Errorf("payload: %v", err)
	}
	return nil
}

// wait returns how many bytes are inflated once there are more than have,
// or the goroutine has ended.
func (f *inflater) wait(have int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.ready <= have && !f.ended {
		f.grown.Wait()
	}
	return f.ready
}

// close stops the goroutine, waits for it, and returns why it failed.
func (f *inflater) close() error {
	f.stop.Store(true)
	f.mu.Lock()
	defer f.mu.Unlock()
	for !f.ended {
		f.grown.Wait()
	}
	return f.err
}

// reader decodes the metadata and digests, remembering the first error.
// The metadata is read as it is inflated.
type reader struct {
	data    []byte // inflated and not yet read
	src     *inflater
	end     int // where data ends in src.buf
	digests []byte
	err     error
}

// more makes data longer by what has been inflated since, waiting for
// some; false when no more will come.
func (r *reader) more() bool {
	ready := r.src.wait(r.end)
	if ready <= r.end {
		return false
	}
	r.data = r.src.buf[r.end-len(r.data) : ready]
	r.end = ready
	return true
}

// pos is where the next byte to read is in the payload.
func (r *reader) pos() int { return r.end - len(r.data) }

// left is how many bytes of metadata are still to read, inflated or not.
func (r *reader) left() int {
	return len(r.src.buf) - r.end + len(r.data)
}

// digest takes the next digest from the digest section.
func (r *reader) digest(d *[32]byte) {
	if r.err != nil {
		return
	}
	if len(r.digests) < 32 {
		r.fail("digest section ends early")
		return
	}
	copy(d[:], r.digests)
	r.digests = r.digests[32:]
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.data)
	for n == 0 && r.more() {
		v, n = binary.Uvarint(r.data)
	}
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.data = r.data[n:]
	return v
}

// varint is a signed varint: a uvarint zig-zag encoded, as
// binary.Varint reads it.
func (r *reader) varint() int64 {
	ux := r.uvarint()
	return int64(ux>>1) ^ -int64(ux&1)
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	for n > uint64(len(r.data)) && r.more() {
	}
	if n > uint64(len(r.data)) {
		r.fail("field of %d bytes, %d left", n, len(r.data))
		return nil
	}
	b := r.data[:n]
	r.data = r.data[n:]
	return b
}

func (r *reader) str() string { return string(r.bytes(r.uvarint())) }

func (r *reader) byte() byte {
	b := r.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u32() uint32 {
	v := r.uvarint()
	if v > math.MaxUint32 {
		r.fail("value %d out of range", v)
	}
	return uint32(v)
}
