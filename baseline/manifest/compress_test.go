package manifest

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestCompressorPieces: runs cut into pieces deflated apart inflate, joined,
// to the runs themselves, and the bytes depend on the runs alone: not on
// how they were handed over nor on the number of workers.
func TestCompressorPieces(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var runs [][]byte
	for _, size := range []int{0, 1, sendEvery - 1, sendEvery, 5*sendEvery/2 + 7} {
		run := make([]byte, size)
		for i := range run { // compressible, but not trivially
			run[i] = byte(rng.IntN(16)) + 'a'
		}
		runs = append(runs, run)
	}
	compress := func(steps int) []byte {
		z := newCompressor()
		for _, run := range runs {
			s := z.stream()
			for k := 1; k <= steps; k++ {
				s.send(run[:len(run)*k/(steps+1)])
			}
			s.end(run)
		}
		return z.finish()
	}

	want := bytes.Join(runs, nil)
	got := compress(1)
	plain, err := io.ReadAll(flate.NewReader(bytes.NewReader(got)))
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	if !bytes.Equal(plain, want) {
		t.Fatalf("inflated %d bytes, not the %d handed over", len(plain), len(want))
	}
	if !bytes.Equal(compress(7), got) {
		t.Error("handed over in other steps, the same runs deflate to other bytes")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	if !bytes.Equal(compress(3), got) {
		t.Error("with one worker, the same runs deflate to other bytes")
	}
}
