package manifest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"driftd/baseline"
)

var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))

// encode signs a manifest of entries with the sample packages, which own
// /bin/sh and /etc/link when they are there.
func encode(t testing.TB, entries []baseline.Entry, h baseline.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	m := &baseline.Manifest{Header: h, Entries: baseline.Pack(entries), Packages: samplePackages()}
	m.SetOwners(map[string]int{"/bin/sh": 0, "/etc/link": 1})
	if err := Encode(&buf, m, testKey); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func samplePackages() []baseline.Package {
	return []baseline.Package{
		{Manager: "dpkg", Name: "dash", Version: "0.5.12-2", Arch: "amd64"},
		{Manager: "dpkg", Name: "link", Version: "1:2.0~rc1", Arch: "all"},
		{Manager: "rpm", Name: "bash", Version: "5.1.8-9.el9", Arch: "x86_64"},
	}
}

func encodeDecode(t testing.TB, entries []baseline.Entry) *baseline.Manifest {
	t.Helper()
	m, err := Decode(encode(t, entries, baseline.Header{DriftdVersion: "test"}), testKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sampleEntries() []baseline.Entry {
	return []baseline.Entry{
		{Path: "/", Type: baseline.TypeDir, Mode: 0o755, Mtime: 1e18, Ctime: 1e18, Inode: 2, Nlink: 3},
		{Path: "/bin", Type: baseline.TypeDir, Mode: 0o755, Mtime: 1e18, Ctime: 1e18, Inode: 10, Nlink: 2},
		{Path: "/bin/sh", Type: baseline.TypeRegular, Mode: 0o4755, Size: 5, Mtime: 1e18 + 5, Ctime: 1e18 + 9, Inode: 11, Nlink: 1, Digest: [32]byte{1, 2, 3},
			Xattrs: []baseline.Xattr{{Name: "security.capability", Digest: [32]byte{9}}}},
		{Path: "/dev/null", Type: baseline.TypeCharDevice, Mode: 0o666, Rdev: 0x103, Inode: 5, Nlink: 1},
		{Path: "/etc/link", Type: baseline.TypeSymlink, Mode: 0o777, Target: "../bin/sh", Inode: 3, Nlink: 1, UID: 1000, GID: 1000},
		{Path: "/etc/secret", Type: baseline.TypeRegular, Mode: 0, Size: 10, Inode: 4, Nlink: 1, Err: "open: permission denied"},
		{Path: "/run/fifo", Type: baseline.TypeFIFO, Mode: 0o600, Inode: 6, Nlink: 1},
	}
}

func TestManifestRoundTrip(t *testing.T) {
	in := sampleEntries()
	m := encodeDecode(t, in)
	if !m.Verified {
		t.Error("not verified")
	}
	if m.Entries.Len() != len(in) {
		t.Fatalf("%d entries, want %d", m.Entries.Len(), len(in))
	}
	for i := range in {
		a, b := in[i], m.Entries.At(i)
		if a.Path != b.Path || a.Diff(&b, 0xffff) != 0 || a.Err != b.Err || a.Digest != b.Digest {
			t.Errorf("entry %d: %+v, want %+v", i, b, a)
		}
	}
	if !slices.Equal(m.Packages, samplePackages()) {
		t.Errorf("packages %v, want %v", m.Packages, samplePackages())
	}
	owners := map[string]string{}
	for i := range m.Entries.Len() {
		if o := m.Owner(i); o != nil {
			owners[m.Entries.At(i).Path] = o.Name
		}
	}
	if want := map[string]string{"/bin/sh": "dash", "/etc/link": "link"}; !maps.Equal(owners, want) {
		t.Errorf("owners %v, want %v", owners, want)
	}
}

func TestManifestDeterministic(t *testing.T) {
	h := baseline.Header{DriftdVersion: "test", Created: 1700000000, Labels: map[string]string{"image": "web", "version": "1", "arch": "amd64"}}
	a := encode(t, sampleEntries(), h)
	b := encode(t, sampleEntries(), h)
	if !bytes.Equal(a, b) {
		t.Error("the same entries and header gave different bytes")
	}
}

// TestManifestRejectsEveryFlippedByte flips each byte of a manifest in turn:
// every one must be refused, none may pass as a good baseline.
func TestManifestRejectsEveryFlippedByte(t *testing.T) {
	good := encode(t, sampleEntries(), baseline.Header{DriftdVersion: "test", Labels: map[string]string{"image": "web"}})
	pub := testKey.Public().(ed25519.PublicKey)
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x01
		if _, err := Decode(bad, pub); err == nil {
			t.Fatalf("byte %d of %d flipped: manifest accepted", i, len(good))
		}
	}
}

// TestManifestHash: the hash a bake chose is in the signed header, and
// one driftd does not know is not written.
func TestManifestHash(t *testing.T) {
	pub := testKey.Public().(ed25519.PublicKey)
	for _, h := range []string{"", "sha256", "blake3"} {
		m, err := Decode(encode(t, sampleEntries(), baseline.Header{Hash: h}), pub)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := baseline.ParseHash(h)
		if m.Header.ContentHash() != want || m.Header.Hash != want.String() {
			t.Errorf("baked with %q: the manifest says %q", h, m.Header.Hash)
		}
	}
	m := &baseline.Manifest{Header: baseline.Header{Hash: "md5"}, Entries: baseline.Pack(sampleEntries())}
	if err := Encode(io.Discard, m, testKey); err == nil || !strings.Contains(err.Error(), `hash "md5"`) {
		t.Errorf("encoding with hash md5: %v", err)
	}
}

func TestManifestErrors(t *testing.T) {
	pub := testKey.Public().(ed25519.PublicKey)
	good := encode(t, sampleEntries(), baseline.Header{DriftdVersion: "test"})
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	newer := bytes.Clone(good)
	newer[len(magic)+1] = FormatVersion + 1
	// A hash this driftd does not know: refused before its digests are
	// compared with anything.
	unknownHash := bytes.Replace(good, []byte(`"hash":"sha256"`), []byte(`"hash":"sha999"`), 1)
	if bytes.Equal(unknownHash, good) {
		t.Fatal("no hash in the header")
	}
	tests := []struct {
		name string
		data []byte
		pub  ed25519.PublicKey
		want error
	}{
		{"truncated", good[:len(good)/2], pub, ErrTruncated},
		{"truncated in the signature", good[:len(good)-10], pub, ErrTruncated},
		{"unsigned", good[:len(good)-ed25519.SignatureSize], pub, ErrUnsigned},
		{"wrong key", good, otherPub, ErrWrongKey},
		{"newer format", newer, pub, ErrNewerFormat},
		{"unknown hash", unknownHash, pub, ErrNewerFormat},
		{"not a manifest", []byte("hello, world"), pub, ErrNotManifest},
		{"trailing data", append(bytes.Clone(good), 0), pub, ErrCorrupt},
		{"empty", nil, pub, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data, tt.pub)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(f, sampleEntries(), baseline.Header{DriftdVersion: "test"}))
	f.Add(encode(f, nil, baseline.Header{}))
	f.Add([]byte("\x89DRIFTD\n\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data, nil)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to entries that decode the same.
		again := encodeDecode(t, m.Entries.Unpack())
		if !reflect.DeepEqual(again.Entries.Unpack(), m.Entries.Unpack()) {
			t.Fatalf("re-encoded %d entries differ from the %d decoded", again.Entries.Len(), m.Entries.Len())
		}
	})
}

// TestManifestContents: the kept contents come back by path, signed with
// the rest (a flipped byte in them fails the signature).
func TestManifestContents(t *testing.T) {
	var buf bytes.Buffer
	m := &baseline.Manifest{Entries: baseline.Pack(sampleEntries()), Contents: map[string][]byte{"/bin/sh": []byte("zz"), "/etc/link": []byte("yyy")}}
	if err := Encode(&buf, m, testKey); err != nil {
		t.Fatal(err)
	}
	pub := testKey.Public().(ed25519.PublicKey)
	got, err := Decode(buf.Bytes(), pub)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Contents) != 2 || string(got.Contents["/bin/sh"]) != "zz" || string(got.Contents["/etc/link"]) != "yyy" {
		t.Errorf("contents %q", got.Contents)
	}
	data := buf.Bytes()
	data[len(data)-ed25519.SignatureSize-2] ^= 1 // inside the contents section
	if _, err := Decode(data, pub); !errors.Is(err, ErrSignature) {
		t.Errorf("a flipped content byte: %v, want %v", err, ErrSignature)
	}
}

// TestReadHeader: the header alone, as Read gives it, and the file named
// in each error.
func TestReadHeader(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.manifest")
	m := &baseline.Manifest{Header: baseline.Header{Hash: "blake3", DriftdVersion: "test"}, Entries: baseline.Pack(sampleEntries())}
	if err := Write(path, m, testKey); err != nil {
		t.Fatal(err)
	}
	h, err := ReadHeader(path)
	if err != nil {
		t.Fatal(err)
	}
	full, err := Read(path, testKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h, full.Header) || h.ContentHash() != baseline.BLAKE3 {
		t.Errorf("header %+v, want %+v", h, full.Header)
	}
	os.WriteFile(path, []byte("not a manifest"), 0o644)
	if _, err := ReadHeader(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("not a manifest: %v", err)
	}
	if _, err := ReadHeader(filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("no file: %v", err)
	}
}
