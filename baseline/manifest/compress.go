package manifest

import (
	"bytes"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
)

// deflateRuns deflates the runs as one stream, in pieces deflated side by
// side on every core: at the end of a bake of a million entries, one
// goroutine deflating 18 MB was the last tenth of a second, with the other
// core idle.
//
// Each piece is deflated afresh and ends in a sync flush, so the pieces
// joined, and one final empty block, are one deflate stream that any
// inflater reads as it reads a stream made in one pass (pigz works this
// way). A cut loses the window of 32 KiB behind it: a few bytes a piece.
// The cuts fall every pieceSize bytes from the start of each run, so the
// same runs always give the same bytes.
//
// The deflater is klauspost/compress's, which writes the same format as
// the standard library's (whose inflater, and older driftds, read it):
// at its level 2, a million entries' 19.8 MB deflated in 0.12-0.13 s
// of a core to 6.8 MB, where the standard library's fastest level took
// 0.25 s to 7.2 MB.
func deflateRuns(runs ...[]byte) []byte {
	var pieces [][]byte
	for _, run := range runs {
		for len(run) > 0 {
			k := min(len(run), pieceSize)
			pieces, run = append(pieces, run[:k]), run[k:]
		}
	}
	outs := make([][]byte, len(pieces))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(pieces)) {
		wg.Go(func() {
			var buf bytes.Buffer
			zw, _ := flate.NewWriter(&buf, deflateLevel)
			for i := int(next.Add(1)) - 1; i < len(pieces); i = int(next.Add(1)) - 1 {
				buf.Reset()
				zw.Reset(&buf)
				zw.Write(pieces[i])
				zw.Flush()
				outs[i] = bytes.Clone(buf.Bytes())
			}
		})
	}
	wg.Wait()
	return append(bytes.Join(outs, nil), finalBlock...)
}

// pieceSize is the size of a piece.
const pieceSize = 1 << 20

// deflateLevel is the deflater's level.
const deflateLevel = 2

// finalBlock ends a deflate stream: an empty block marked final.
var finalBlock = func() []byte {
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, deflateLevel)
	zw.Close()
	return buf.Bytes()
}()
