package baseline

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// packTestEntries is a tree with every kind of entry and rare field, in
// path order.
func packTestEntries(n int, seed uint64) []Entry {
	r := rand.New(rand.NewPCG(seed, 1))
	fill := func(b []byte) {
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	}
	var out []Entry
	for i := range n {
		e := Entry{
			Path:  fmt.Sprintf("/d%03d/sub%02d/file-%06d", i/500, (i/20)%25, i),
			Type:  TypeRegular,
			Mode:  0o644,
			Size:  r.Int64N(1 << 20),
			Mtime: 1_700_000_000_000_000_000 + r.Int64N(1e15),
			Inode: uint64(1000 + i*3),
			Nlink: 1,
		}
		e.Ctime = e.Mtime + r.Int64N(1e9) - 5e8
		fill(e.Digest[:])
		switch i % 37 {
		case 1:
			e.Type, e.Target, e.Digest = TypeSymlink, "../target/"+fmt.Sprint(i), [32]byte{}
		case 2:
			e.Type, e.Rdev, e.Digest = TypeCharDevice, uint64(i), [32]byte{}
		case 3:
			e.Xattrs = []Xattr{{Name: "security.capability"}, {Name: "user.x"}}
			fill(e.Xattrs[0].Digest[:])
			fill(e.Xattrs[1].Digest[:])
		case 4:
			e.Err, e.Digest = "open: permission denied", [32]byte{}
		case 5:
			e.Type, e.Digest, e.Nlink, e.UID, e.GID = TypeDir, [32]byte{}, 7, 1000, 1000
		case 6:
			e.Type, e.Err, e.Digest = 0, "lstat: input/output error", [32]byte{}
		}
		out = append(out, e)
	}
	SortEntries(out)
	return out
}

func TestPackedRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, PackBlock - 1, PackBlock, PackBlock + 1, 5000} {
		entries := packTestEntries(n, uint64(n))
		p := Pack(entries)
		if p.Len() != n {
			t.Fatalf("n=%d: Len %d", n, p.Len())
		}
		if got := p.Unpack(); !reflect.DeepEqual(got, entries) && n > 0 {
			t.Fatalf("n=%d: Unpack differs", n)
		}
		if p.Counts() != countEntries(entries) {
			t.Errorf("n=%d: counts %+v, want %+v", n, p.Counts(), countEntries(entries))
		}
		for i := range entries {
			if got := p.At(i); !reflect.DeepEqual(got, entries[i]) {
				t.Fatalf("n=%d: At(%d) = %+v, want %+v", n, i, got, entries[i])
			}
			e, j, ok := p.Lookup(entries[i].Path)
			if !ok || j != i || !reflect.DeepEqual(e, entries[i]) {
				t.Fatalf("n=%d: Lookup(%s) = %d %v", n, entries[i].Path, j, ok)
			}
			// Absent paths go where a sorted insert would put them.
			for _, absent := range []string{entries[i].Path[:len(entries[i].Path)-1], entries[i].Path + "\x00"} {
				want, _ := findEntry(entries, absent)
				if j, ok := p.Find(absent); ok || j != want {
					t.Fatalf("n=%d: Find(%q) = %d %v, want %d", n, absent, j, ok, want)
				}
			}
		}
		if j, ok := p.Find(""); ok || j != 0 {
			t.Errorf("n=%d: Find(\"\") = %d %v", n, j, ok)
		}
		// Range from the middle of a block.
		if n > 20 {
			var got []Entry
			p.Range(3, 20, func(i int, e *Entry) bool { got = append(got, *e); return true })
			if !reflect.DeepEqual(got, entries[3:20]) {
				t.Errorf("n=%d: Range(3, 20) differs", n)
			}
		}
	}
}

func TestPackRefusesDisorder(t *testing.T) {
	var pk Packer
	if err := pk.Add(&Entry{Path: "/b", Type: TypeDir}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/a", "/b"} {
		if err := pk.Add(&Entry{Path: p, Type: TypeDir}); err == nil {
			t.Errorf("%s after /b: no error", p)
		}
	}
}

// BenchmarkPackedLookup finds paths in a 100k-entry baseline, as the
// comparison of every walked entry does.
func BenchmarkPackedLookup(b *testing.B) {
	entries := packTestEntries(100_000, 1)
	p := Pack(entries)
	b.ReportMetric(float64(p.Bytes())/float64(p.Len()), "B/entry")
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, _, ok := p.Lookup(entries[i].Path); !ok {
			b.Fatal("not found")
		}
		i = (i + 7919) % len(entries)
	}
}

func BenchmarkSliceLookup(b *testing.B) {
	entries := packTestEntries(100_000, 1)
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, ok := findEntry(entries, entries[i].Path); !ok {
			b.Fatal("not found")
		}
		i = (i + 7919) % len(entries)
	}
}

// countEntries counts entries the plain way, to check the packer by.
func countEntries(entries []Entry) Counts {
	c := Counts{Entries: len(entries)}
	for i := range entries {
		e := &entries[i]
		switch e.Type {
		case TypeRegular:
			c.Files++
			c.Bytes += e.Size
		case TypeDir:
			c.Dirs++
		}
		if e.Err != "" {
			c.Errors++
		}
	}
	return c
}

// TestPackFunc: packed in runs side by side and joined, the entries are
// what Pack makes of them, byte for byte; and an entry out of order
// between two runs is refused as within one.
func TestPackFunc(t *testing.T) {
	for _, n := range []int{0, 1, 1<<14 - 1, 1 << 14, 1<<14 + 17, 40_001} {
		entries := packTestEntries(n, uint64(n)+11)
		want := Pack(entries)
		for _, parts := range []int{1, 2, 3} {
			got, err := PackFunc(n, parts, func(i int, e *Entry) { *e = entries[i] })
			if err != nil {
				t.Fatalf("n=%d parts=%d: %v", n, parts, err)
			}
			if !reflect.DeepEqual(got.Unpack(), entries) && n > 0 || got.Counts() != want.Counts() ||
				!bytes.Equal(got.data, want.data) || !bytes.Equal(got.digests, want.digests) ||
				!slices.Equal(got.blocks, want.blocks) || !slices.Equal(got.digestAt, want.digestAt) {
				t.Fatalf("n=%d parts=%d: differs from Pack", n, parts)
			}
		}
	}
	entries := packTestEntries(40_000, 5)
	// Swapped across the two runs' boundary: each run is in order.
	per := (len(entries)/2 + PackBlock) / PackBlock * PackBlock
	entries[per-1], entries[per] = entries[per], entries[per-1]
	for _, parts := range []int{1, 2} {
		if _, err := PackFunc(len(entries), parts, func(i int, e *Entry) { *e = entries[i] }); err == nil {
			t.Errorf("parts=%d: entries out of order packed", parts)
		}
	}
}
