package walk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"driftd/baseline"
)

// TestWalkHashes walks files that take each of the walk's ways to a digest
// (read through the ring, read(2) from a worker, a big file as a job of its
// own) and an xattr, with each hash: every digest must be that hash's, and
// one walker's hash must not leak into the next through the pooled buffers.
func TestWalkHashes(t *testing.T) {
	root := t.TempDir()
	files := map[string][]byte{
		"/small":  []byte("small enough for the ring\n"),
		"/medium": bytes.Repeat([]byte("m"), ringMaxBytes+1),
		"/big":    bytes.Repeat([]byte("b"), bigFile+1),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	xattr := []byte("a value")
	if err := unix.Setxattr(filepath.Join(root, "small"), "user.driftd", xattr, 0); err != nil {
		t.Fatal(err)
	}
	sums := map[baseline.Hash]func([]byte) [32]byte{
		baseline.SHA256: sha256.Sum256,
		baseline.BLAKE3: blake3.Sum256,
		"":              sha256.Sum256, // the zero Hash
	}
	for _, alg := range []baseline.Hash{baseline.BLAKE3, baseline.SHA256, "", baseline.BLAKE3} {
		sum := sums[alg]
		w := &Walker{Root: root, Rules: mustRules(t, matrixRules), Workers: 2, Hash: alg}
		entries, err := w.Walk(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, e := range entries {
			data, ok := files[e.Path]
			if !ok {
				continue
			}
			seen++
			if e.Err != "" || e.Digest != sum(data) {
				t.Errorf("%s: %s with %q: digest %x, want %x", e.Path, e.Err, alg, e.Digest[:8], sum(data))
			}
			if e.Path == "/small" && (len(e.Xattrs) != 1 || e.Xattrs[0].Digest != sum(xattr)) {
				t.Errorf("/small's xattr with %q: %+v", alg, e.Xattrs)
			}
		}
		if seen != len(files) {
			t.Fatalf("%d of %d files walked", seen, len(files))
		}
	}
}
