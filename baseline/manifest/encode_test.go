package manifest

import (
	"bytes"
	"compress/flate"
	"crypto/ed25519"
	"fmt"
	"io"
	"reflect"
	"testing"

	"driftd/baseline"
)

// TestEncodeRecordsAsHeld: a manifest stores the packed entries' records
// as they are, in pieces deflated side by side, and a list of many blocks
// and pieces decodes to itself, its records taken back as they are.
func TestEncodeRecordsAsHeld(t *testing.T) {
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
	var buf bytes.Buffer
	if err := Encode(&buf, &baseline.Manifest{Entries: p}, testKey); err != nil {
		t.Fatal(err)
	}
	env, err := splitEnvelope(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	payload, err := io.ReadAll(flate.NewReader(bytes.NewReader(env.zdata)))
	if err != nil {
		t.Fatal(err)
	}
	records, digests := p.Records()
	if !bytes.HasPrefix(payload, records) || !bytes.Equal(env.digests, digests) {
		t.Error("the manifest does not hold the packed records as they are")
	}
	m, err := Decode(buf.Bytes(), testKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Entries.Unpack(), entries) {
		t.Error("decoded entries differ")
	}
	if got, gotDigests := m.Entries.Records(); !bytes.Equal(got, records) || !bytes.Equal(gotDigests, digests) {
		t.Error("the records read back are not those written")
	}
}
