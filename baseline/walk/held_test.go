package walk

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

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
			Path: fmt.Sprintf("/d%02d/f%05d", i%17, r.IntN(1e5)*100+i), Type: baseline.TypeRegular,
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
