package manifest

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestDeflateRuns: runs cut into pieces deflated apart inflate, joined, by
// the standard library's inflater (as an older driftd reads them),
// to the runs themselves, and the bytes depend on the runs alone, not on
// the number of workers.
func TestDeflateRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var runs [][]byte
	for _, size := range []int{0, 1, pieceSize - 1, pieceSize, 5*pieceSize/2 + 7} {
		run := make([]byte, size)
		for i := range run { // compressible, but not trivially
			run[i] = byte(rng.IntN(16)) + 'a'
		}
		runs = append(runs, run)
	}

	want := bytes.Join(runs, nil)
	got := deflateRuns(runs...)
	plain, err := io.ReadAll(flate.NewReader(bytes.NewReader(got)))
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	if !bytes.Equal(plain, want) {
		t.Fatalf("inflated %d bytes, not the %d handed over", len(plain), len(want))
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	if !bytes.Equal(deflateRuns(runs...), got) {
		t.Error("with one worker, the same runs deflate to other bytes")
	}
}
