package walk

import (
	"fmt"
	"math/rand/v2"
	pathpkg "path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"driftd/baseline"
)

// TestHeldRoundTrip: every field of every kind of entry comes back from
// the held records as it went in, sorted by path, across chunks and with
// a record bigger than a chunk.
func TestHeldRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var want []baseline.Entry
	for i := range 30_000 {
		e := baseline.Entry{
			Path: fmt.Sprintf("/d%02d/f%05d", i%17, r.IntN(1e5)*100_000+i), Type: baseline.TypeRegular,
			Mode: uint32(r.IntN(0o7777)), UID: r.Uint32(), GID: r.Uint32(), Size: r.Int64(),
			Mtime: r.Int64() - r.Int64(), Ctime: r.Int64(), Inode: r.Uint64(), Nlink: r.Uint64(),
		}
		for k := range e.Digest {
			e.Digest[k] = byte(r.Uint32())
		}
		switch i % 7 {
		case 1:
			e.Type, e.Target, e.Digest = baseline.TypeSymlink, "../t"+fmt.Sprint(i), [32]byte{}
		case 2:
			e.Type, e.Rdev, e.Digest = baseline.TypeBlockDevice, r.Uint64(), [32]byte{}
		case 3:
			e.Xattrs = []baseline.Xattr{{Name: "security.selinux", Digest: [32]byte{1, 2}}, {Name: "user.y", Digest: [32]byte{3}}}
		case 4:
			e.Err, e.Digest = "open: permission denied", [32]byte{}
		case 5:
			e.Type, e.Digest, e.Err = baseline.TypeDir, [32]byte{}, "list directory: input/output error"
		case 6:
			e.Type, e.Digest = 0, [32]byte{}
		}
		want = append(want, e)
	}
	want[100].Err = strings.Repeat("x", 3*heldChunk/2)
	want[100].Digest = [32]byte{}
	var h held
	for i := range want {
		h.add(&want[i])
	}
	if len(h.chunks) < 3 {
		t.Fatalf("%d chunks: the test wants records across several", len(h.chunks))
	}
	baseline.SortEntries(want)
	refs := h.sortByPath(2)
	got := make([]baseline.Entry, len(refs))
	for i, ref := range refs {
		h.entry(ref, &got[i])
	}
	if !slices.IsSortedFunc(got, func(a, b baseline.Entry) int { return strings.Compare(a.Path, b.Path) }) {
		t.Fatal("not sorted by path")
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("entry %d: got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

// TestSortByPathIsByteOrder: records handed over a directory at a time, in
// any order of directories, come back in the byte order of their paths,
// with the names that sort around a directory's "/" (".", "-", " ",
// "0"), directories that are prefixes of their siblings, directories with
// no record of their own, and the root's own record.
func TestSortByPathIsByteOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	names := []string{"a", "a.b", "a-", "a b", "a0", "ab", "b", "a.", "\x01", "\xff", "z", "é"}
	var paths []string
	seen := map[string]bool{}
	var grow func(dir string, depth int)
	grow = func(dir string, depth int) {
		for _, n := range names {
			if r.IntN(3) == 0 {
				continue
			}
			p := dir + "/" + n
			if dir == "/" {
				p = "/" + n
			}
			if r.IntN(5) > 0 && !seen[p] { // else walked through, not recorded
				seen[p] = true
				paths = append(paths, p)
			}
			if depth < 4 && r.IntN(2) == 0 {
				grow(p, depth+1)
			}
		}
	}
	grow("/", 0)
	paths = append(paths, "/")
	// Hand them over grouped by directory, the directories in random
	// order, and a few records out of their group (a big file's job).
	byDir := map[string][]string{}
	var dirs []string
	for _, p := range paths {
		d := pathpkg.Dir(p)
		if byDir[d] == nil {
			dirs = append(dirs, d)
		}
		byDir[d] = append(byDir[d], p)
	}
	r.Shuffle(len(dirs), func(i, j int) { dirs[i], dirs[j] = dirs[j], dirs[i] })
	var handed []string
	for _, d := range dirs {
		handed = append(handed, byDir[d]...)
	}
	for range 20 {
		i, j := r.IntN(len(handed)), r.IntN(len(handed))
		handed[i], handed[j] = handed[j], handed[i]
	}
	if len(handed) < 1000 {
		t.Fatalf("%d paths: the test wants a bigger tree", len(handed))
	}
	for _, workers := range []int{1, 2, 3} {
		var h held
		for _, p := range handed {
			h.add(&baseline.Entry{Path: p, Type: baseline.TypeDir})
		}
		var got []string
		for _, at := range h.sortByPath(workers) {
			got = append(got, h.path(at))
		}
		want := slices.Clone(handed)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("%d workers: at %d got %q, want %q (%d and %d paths)", workers, i, got[i], want[i], len(got), len(want))
				}
			}
			t.Fatalf("%d workers: %d paths, want %d", workers, len(got), len(want))
		}
	}
}

// BenchmarkSortByPath orders a million records handed over a directory at
// a time, as a bake's walk hands them, beside a sort of the whole list on
// two cores (the way the bake ordered them before).
func BenchmarkSortByPath(b *testing.B) {
	var paths []string
	for d := range 100_000 {
		dir := fmt.Sprintf("/tree/d%02d/d%05d", d%97, d)
		for f := range 11 {
			paths = append(paths, fmt.Sprintf("%s/file-%d.conf", dir, (f*7919)%11))
		}
	}
	var tree, whole time.Duration
	for b.Loop() {
		var h held // sortByPath spends it
		for _, p := range paths {
			h.add(&baseline.Entry{Path: p, Type: baseline.TypeRegular})
		}
		at := slices.Clone(h.at)
		start := time.Now()
		h.sortByPath(2)
		tree += time.Since(start)

		start = time.Now()
		refs := make([]heldRef, len(at))
		for i, at := range at {
			refs[i] = heldRef{heldAt: at}
			refs[i].path, _ = heldStr(h.chunks[at.chunk][at.at:])
		}
		byPath := func(a, b heldRef) int { return strings.Compare(a.path, b.path) }
		half := len(refs) / 2
		var wg sync.WaitGroup
		wg.Go(func() { slices.SortFunc(refs[:half], byPath) })
		slices.SortFunc(refs[half:], byPath)
		wg.Wait()
		whole += time.Since(start) // and a merge still to do
	}
	b.ReportMetric(float64(tree.Nanoseconds())/float64(b.N*len(paths)), "ns/path")
	b.ReportMetric(float64(whole.Nanoseconds())/float64(b.N*len(paths)), "whole-sort-ns/path")
	b.ReportMetric(float64(whole)/float64(tree), "x-faster")
}
