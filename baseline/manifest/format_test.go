package manifest

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"testing"

	"driftd/baseline"
)

// formatEntries are the entries of the manifests in testdata: more than
// one block of records, every type, xattrs, errors, and paths that share
// most of their bytes.
func formatEntries() []baseline.Entry {
	entries := sampleEntries()
	for i := range 40 {
		e := baseline.Entry{Path: fmt.Sprintf("/usr/share/d%d/f%03d", i/7, i), Type: baseline.TypeRegular, Mode: 0o644,
			Size: int64(i * 100), Mtime: 1.7e18 + int64(i*7919%1000), Ctime: 1.7e18 + int64(i), Inode: uint64(5000 - i), Nlink: 1,
			Digest: [32]byte{byte(i), 1}}
		switch i % 6 {
		case 1:
			e.Type, e.Target, e.Digest, e.Size = baseline.TypeSymlink, fmt.Sprintf("f%03d", i-1), [32]byte{}, 4
		case 2:
			e.Xattrs = []baseline.Xattr{{Name: "security.capability", Digest: [32]byte{byte(i), 2}}, {Name: "user.x", Digest: [32]byte{byte(i), 3}}}
		case 3:
			e.Err, e.Digest = "read: input/output error", [32]byte{}
		case 4:
			e.Type, e.Digest, e.Size, e.Mode = baseline.TypeDir, [32]byte{}, 0, 0o755
		}
		entries = append(entries, e)
	}
	baseline.SortEntries(entries)
	return entries
}

// TestOlderFormatsRead: a manifest written by an older driftd, kept in
// testdata, still verifies and decodes to what it was made from. Hosts
// keep the baseline their image was baked with. testdata/format3.manifest
// was written by driftd at c9236bb: formatEntries, samplePackages owning
// /bin/sh and /etc/link, "kept" as the contents of /usr/share/d0/f000,
// Created 1.7e9, signed by testKey.
func TestOlderFormatsRead(t *testing.T) {
	for _, version := range []int{3} {
		t.Run(fmt.Sprint(version), func(t *testing.T) {
			data, err := os.ReadFile(fmt.Sprintf("testdata/format%d.manifest", version))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Decode(data, testKey.Public().(ed25519.PublicKey))
			if err != nil {
				t.Fatal(err)
			}
			if m.Header.Format != version {
				t.Errorf("format %d, want %d", m.Header.Format, version)
			}
			if !reflect.DeepEqual(m.Entries.Unpack(), formatEntries()) {
				t.Error("entries differ from those it was made from")
			}
			if !slices.Equal(m.Packages, samplePackages()) {
				t.Errorf("packages %v", m.Packages)
			}
			if i, ok := m.Find("/bin/sh"); !ok || m.Owner(i) == nil || m.Owner(i).Name != "dash" {
				t.Errorf("/bin/sh is not dash's")
			}
			if string(m.Contents["/usr/share/d0/f000"]) != "kept" {
				t.Errorf("contents %q", m.Contents)
			}
		})
	}
}

// TestFormatBlocks: from format 4 on, every block of entries starts afresh.
// The format-3 payload, which shares paths across the blocks' bounds, is
// corrupt under a format-4 header; under its own it reads.
func TestFormatBlocks(t *testing.T) {
	data, err := os.ReadFile("testdata/format3.manifest")
	if err != nil {
		t.Fatal(err)
	}
	env, err := splitEnvelope(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		format int
		want   error
	}{{3, nil}, {4, ErrCorrupt}} {
		h := env.header
		h.Format = tt.format
		_, err := Decode(unsignedManifest(t, h, env.zdata, env.digests, env.contents), nil)
		if !errors.Is(err, tt.want) {
			t.Errorf("format %d: %v, want %v", tt.format, err, tt.want)
		}
	}
}
