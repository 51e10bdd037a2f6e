package manifest

import (
	"bytes"
	"compress/flate"
)

// compressor deflates the metadata on a goroutine of its own while the
// entries are still being encoded: at the end of a bake of a million
// entries, encoding them and compressing the result each took a core a
// sixth of a second, one after the other.
type compressor struct {
	pieces chan []byte
	done   chan struct{}
	out    bytes.Buffer
	sent   int // bytes of the metadata handed over
}

// sendEvery is how much metadata gathers before it is handed over.
const sendEvery = 1 << 20

// newCompressor starts the goroutine, which finish stops.
func newCompressor(sizeHint int) *compressor {
	c := &compressor{pieces: make(chan []byte, 8), done: make(chan struct{})}
	c.out.Grow(sizeHint)
	go func() {
		defer close(c.done)
		zw, _ := flate.NewWriter(&c.out, flate.BestSpeed)
		for p := range c.pieces {
			zw.Write(p)
		}
		zw.Close()
	}()
	return c
}

// send hands over what meta holds past what was sent, once that is at
// least least bytes. meta only ever grows: the bytes handed over are not
// written again, wherever its later appends put it.
func (c *compressor) send(meta []byte, least int) {
	if len(meta)-c.sent >= least {
		c.pieces <- meta[c.sent:]
		c.sent = len(meta)
	}
}

// finish hands over the rest of meta and returns all of it deflated.
func (c *compressor) finish(meta []byte) []byte {
	c.send(meta, 1)
	close(c.pieces)
	<-c.done
	return c.out.Bytes()
}
