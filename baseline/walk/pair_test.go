package walk

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"driftd/baseline"
	"driftd/baseline/sha256x2"
)

// writeBig writes files of the given sizes under root/big, random content
// each, and returns their contents by walk path.
func writeBig(t *testing.T, root string, sizes []int) map[string][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	os.Mkdir(filepath.Join(root, "big"), 0o755)
	files := map[string][]byte{}
	for i, size := range sizes {
		data := make([]byte, size)
		for k := range data {
			data[k] = byte(rng.Uint32())
		}
		p := fmt.Sprintf("/big/f%d", i)
		if err := os.WriteFile(filepath.Join(root, p), data, 0o644); err != nil {
			t.Fatal(err)
		}
		files[p] = data
	}
	return files
}

// checkDigests walks root and checks every file of files has its content's
// digest, beside its content's size, and no error.
func checkDigests(t *testing.T, root string, workers int, files map[string][]byte) {
	t.Helper()
	w := &Walker{Root: root, Rules: mustRules(t, matrixRules), Workers: workers}
	entries, err := w.Walk(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, e := range entries {
		if data, ok := files[e.Path]; ok {
			seen++
			if e.Err != "" || e.Digest != sha256.Sum256(data) {
				t.Errorf("%s (%d bytes): %q, digest %x, want %x", e.Path, len(data), e.Err, e.Digest[:8], sha256.Sum256(data))
			}
			if e.Size != int64(len(data)) {
				t.Errorf("%s: size %d beside the digest of %d bytes", e.Path, e.Size, len(data))
			}
		}
	}
	if seen != len(files) {
		t.Fatalf("%d of %d files walked", seen, len(files))
	}
}

// TestPairedHash walks large files of sizes on each side of a block, of a
// window and of each other, equal and not: hashed two at a time, each must
// have its own content's digest, and the pairs must have been used.
func TestPairedHash(t *testing.T) {
	if !sha256x2.Available() {
		t.Skip("no SHA-NI on this CPU: large files are hashed one at a time, as TestMappedHash covers")
	}
	sizes := []int{bigFile, bigFile, bigFile + 63, bigFile + 64, mapWindow, mapWindow, mapWindow + 1, 2*mapWindow + 4097, 2 * mapWindow, 3*mapWindow - 1}
	root := t.TempDir()
	files := writeBig(t, root, sizes)
	for _, workers := range []int{1, 2} {
		before := pairedFiles.Load()
		checkDigests(t, root, workers, files)
		if paired := pairedFiles.Load() - before; paired < int64(len(sizes)-2*workers) {
			t.Errorf("%d workers: %d of %d files hashed in pairs", workers, paired, len(sizes))
		}
	}
}

// TestPairedFileResized: a file cut short or grown while it is hashed in a
// pair must not crash the walk nor get the digest of what was mapped: it
// is hashed again alone, as it is now. A cut faults the pair, so both
// files are; a file that grew leaves its partner's digest standing.
func TestPairedFileResized(t *testing.T) {
	if !sha256x2.Available() {
		t.Skip("no SHA-NI on this CPU: nothing is hashed in pairs")
	}
	for _, c := range []struct {
		name   string
		at     int64 // the window at whose mapping the file changes
		size   int64
		paired int64 // files whose digest the pair gives
	}{
		{"cut in the first window", 0, 100, 0},
		{"cut in a later window", mapWindow, mapWindow + 5000, 0},
		{"grown", 0, 3*mapWindow + 1, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			files := writeBig(t, root, []int{3 * mapWindow, 3*mapWindow - 10})
			resized := filepath.Join(root, "big/f0")
			afterMapTest = func(off int64) {
				if off == c.at {
					if err := os.Truncate(resized, c.size); err != nil {
						panic(err)
					}
				}
			}
			defer func() { afterMapTest = nil }()
			now := make([]byte, c.size)
			copy(now, files["/big/f0"])
			files["/big/f0"] = now
			before := pairedFiles.Load()
			checkDigests(t, root, 1, files)
			if paired := pairedFiles.Load() - before; paired != c.paired {
				t.Errorf("%d files took the pair's digest, want %d", paired, c.paired)
			}
		})
	}
}

// TestPairTakesLargestFirst: with pairs, directories first (the large
// files wait to be all queued, in order of size), then the two largest
// files together while that leaves the other worker a file, then alone.
// Without pairs, a large file as soon as it is queued.
func TestPairTakesLargestFirst(t *testing.T) {
	queue := func(pairs bool) *walk {
		wk := &walk{w: &Walker{Workers: 2}, pairs: pairs}
		wk.jobs = []job{{entry: baseline.Entry{Path: "/dir"}, dir: true}}
		for _, size := range []int64{1, 5, 7, 9} { // smallest first, as work keeps them
			wk.bigs = append(wk.bigs, job{entry: baseline.Entry{Path: fmt.Sprint(size), Size: size}})
		}
		return wk
	}
	wk := queue(true)
	if j, p := wk.take(); !j.dir || p != nil {
		t.Fatalf("with pairs, took %q and %v first, want the directory", j.entry.Path, p)
	}
	if j, p := wk.take(); p == nil || j.entry.Size != 9 || p.entry.Size != 7 {
		t.Fatalf("took %v and %v, want 9 and 7 together", j.entry.Size, p)
	}
	if j, p := wk.take(); p != nil || j.entry.Size != 5 { // two files left, one for each worker
		t.Fatalf("took %v and %v, want 5 alone", j.entry.Size, p)
	}
	wk = queue(false)
	if j, p := wk.take(); p != nil || j.entry.Size != 9 {
		t.Fatalf("without pairs, took %q and %v first, want the largest file alone", j.entry.Path, p)
	}
}
