package walk

import (
	"context"
	"crypto/sha256"
	"hash"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"driftd/baseline"
)

// TestMappedHash hashes files around the mapping's limits, one of several
// windows, from a mapping and with read(2): the digests must be the
// content's, and the files of a mebibyte or more must have been mapped.
func TestMappedHash(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{mapMinBytes - 1, mapMinBytes, mapWindow, mapWindow + 1, 2*mapWindow + 4097} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(p, unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		before := mappedFiles.Load()
		e := baseline.Entry{Path: p, Type: baseline.TypeRegular, Size: int64(size)}
		errMsg := newWorkerBufs(baseline.SHA256).hash(context.Background(), fd, &e, nil)
		unix.Close(fd)
		if errMsg != "" || e.Digest != sha256.Sum256(data) {
			t.Errorf("%d bytes: digest %x (%q), want %x", size, e.Digest[:8], errMsg, sha256.Sum256(data))
		}
		if mapped := mappedFiles.Load() > before; mapped != (size >= mapMinBytes) {
			t.Errorf("%d bytes: mapped %v", size, mapped)
		}
	}
}

// resizer is a hash that truncates its file to a new size on its first
// write, then hashes the window it was given: should the file be cut
// short, pages of that window are gone.
type resizer struct {
	hash.Hash
	path    string
	size    int64
	resized bool
}

func (r *resizer) Write(p []byte) (int, error) {
	if !r.resized {
		r.resized = true
		if err := os.Truncate(r.path, r.size); err != nil {
			panic(err)
		}
	}
	return r.Hash.Write(p)
}

// TestMappedFileResized: a file cut short while it is hashed from a
// mapping faults the hash, which must not crash the walk; a file that
// grows is longer than what was mapped. Neither may be given the digest
// of what was mapped: the file is read again with read(2), which sees it
// as it now is.
func TestMappedFileResized(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resized")
	data := make([]byte, 3*mapWindow)
	for i := range data {
		data[i] = byte(i)
	}
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CREAT, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for _, size := range []int64{100, 2*mapWindow + 1, int64(len(data)) + 1} {
		now := make([]byte, size) // the file as the resize leaves it: cut short, or grown by zeros
		copy(now, data)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		bufs := newWorkerBufs(baseline.SHA256)
		bufs.h = &resizer{Hash: sha256.New(), path: p, size: size}
		if _, _, ok := bufs.hashMapped(context.Background(), fd, int64(len(data)), nil); ok {
			t.Fatalf("to %d bytes: a file resized while mapped was hashed from its mapping", size)
		}
		os.WriteFile(p, data, 0o644)
		bufs.h = &resizer{Hash: sha256.New(), path: p, size: size}
		e := baseline.Entry{Path: p, Type: baseline.TypeRegular, Size: int64(len(data))}
		errMsg := bufs.hash(context.Background(), fd, &e, nil)
		if errMsg != "" || e.Digest != sha256.Sum256(now) {
			t.Fatalf("to %d bytes: digest %x (%q), want that of the file as it is", size, e.Digest[:8], errMsg)
		}
		if e.Size != size {
			t.Fatalf("to %d bytes: size %d beside the digest", size, e.Size)
		}
	}
}
