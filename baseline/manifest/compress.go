package manifest

import (
	"bytes"
	"compress/flate"
	"runtime"
	"sync"
)

// compressor deflates the metadata while it is still being encoded, in
// pieces deflated side by side on every core: at the end of a bake of a
// million entries, one goroutine deflating 18 MB was the last tenth of a
// second, with the other core idle.
//
// Each piece is deflated afresh and ends in a sync flush, so the pieces
// joined, and one final empty block, are one deflate stream that any
// inflater reads as it reads a stream made in one pass (pigz works this
// way). A cut loses the window of 32 KiB behind it: a few bytes a piece.
// The cuts fall at fixed offsets from the start of each stream of
// metadata, so the same metadata always gives the same bytes.
type compressor struct {
	jobs    chan piece
	workers sync.WaitGroup
	mu      sync.Mutex
	streams []*zstream // in the order the stream calls made them
}

// piece is a run of metadata and where its deflated bytes go.
type piece struct {
	in  []byte
	out *[]byte
}

// sendEvery is the size of a piece.
const sendEvery = 1 << 20

// newCompressor starts a worker per core, which finish stops.
func newCompressor() *compressor {
	c := &compressor{jobs: make(chan piece, 8)}
	for range runtime.GOMAXPROCS(0) {
		c.workers.Go(func() {
			var buf bytes.Buffer
			zw, _ := flate.NewWriter(&buf, flate.BestSpeed)
			for p := range c.jobs {
				buf.Reset()
				zw.Reset(&buf)
				zw.Write(p.in)
				zw.Flush()
				*p.out = bytes.Clone(buf.Bytes())
			}
		})
	}
	return c
}

// zstream is one run of the metadata, which one goroutine appends to and
// hands over in pieces.
type zstream struct {
	c    *compressor
	sent int // bytes of the run handed over
	outs []*[]byte
}

// stream starts the next run of the metadata: its pieces follow those of
// the runs started before it.
func (c *compressor) stream() *zstream {
	s := &zstream{c: c}
	c.mu.Lock()
	c.streams = append(c.streams, s)
	c.mu.Unlock()
	return s
}

// send hands over the whole pieces of run past what was sent. run holds
// the stream's bytes from its start and only ever grows: the bytes handed
// over are not written again, wherever its later appends put it.
func (s *zstream) send(run []byte) {
	for len(run)-s.sent >= sendEvery {
		s.hand(run[s.sent : s.sent+sendEvery])
	}
}

// end hands over the rest of run.
func (s *zstream) end(run []byte) {
	s.send(run)
	if s.sent < len(run) {
		s.hand(run[s.sent:])
	}
}

func (s *zstream) hand(in []byte) {
	out := new([]byte)
	s.outs = append(s.outs, out)
	s.c.jobs <- piece{in: in, out: out}
	s.sent += len(in)
}

// finish waits for every piece, once every stream has ended, and returns
// the deflate stream.
func (c *compressor) finish() []byte {
	close(c.jobs)
	c.workers.Wait()
	var size int
	for _, s := range c.streams {
		for _, out := range s.outs {
			size += len(*out)
		}
	}
	z := make([]byte, 0, size+len(finalBlock))
	for _, s := range c.streams {
		for _, out := range s.outs {
			z = append(z, *out...)
		}
	}
	return append(z, finalBlock...)
}

// finalBlock ends a deflate stream: an empty block marked final.
var finalBlock = func() []byte {
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	zw.Close()
	return buf.Bytes()
}()
