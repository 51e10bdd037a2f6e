package manifest

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"reflect"
	"testing"

	"driftd/baseline"
)

// TestEncodeInHalves: a list large enough to be encoded in two halves at
// once gives the bytes of one pass over it, and decodes to itself.
func TestEncodeInHalves(t *testing.T) {
	var entries []baseline.Entry
	for i := range 40_000 {
		e := baseline.Entry{Path: fmt.Sprintf("/d%03d/f%06d", i/100, i), Type: baseline.TypeRegular, Mode: 0o644,
			Size: int64(i), Mtime: 1e18 + int64(i*7919%1000), Ctime: 1e18 + int64(i), Inode: uint64(1e6 - i), Nlink: 1, Digest: [32]byte{byte(i), byte(i >> 8)}}
		switch i % 5 {
		case 1:
			e.Type, e.Target, e.Digest = baseline.TypeSymlink, "t", [32]byte{}
		case 2:
			e.Xattrs = []baseline.Xattr{{Name: "user.a", Digest: [32]byte{byte(i)}}}
		case 3:
			e.Err, e.Digest = "open: permission denied", [32]byte{}
		}
		entries = append(entries, e)
	}
	baseline.SortEntries(entries)
	p := baseline.Pack(entries)
	z := newCompressor()
	meta, digests := encodeEntries(p, z)
	z.finish()
	oneZ := newCompressor()
	one := entryEncoder{z: oneZ.stream()}
	one.encode(p, 0, p.Len())
	oneZ.finish()
	if !bytes.Equal(meta, one.meta) || !bytes.Equal(bytes.Join(digests, nil), one.digests) {
		t.Fatal("the halves' bytes differ from one pass's")
	}
	var buf bytes.Buffer
	if err := Encode(&buf, &baseline.Manifest{Entries: p}, testKey); err != nil {
		t.Fatal(err)
	}
	m, err := Decode(buf.Bytes(), testKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Entries.Unpack(), entries) {
		t.Error("decoded entries differ")
	}
}
