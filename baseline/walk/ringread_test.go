package walk

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"driftd/baseline"
)

// TestRingWalkIsReadWalk walks a tree of files of every size around the
// ring's limits, some with xattrs, some unreadable, through the ring and
// then with read(2) alone: the entries must be the same.
func TestRingWalkIsReadWalk(t *testing.T) {
	root := t.TempDir()
	sizes := []int{0, 1, 4095, 4096, ringMaxBytes - 1, ringMaxBytes, ringMaxBytes + 1, 300 << 10}
	for d := range 40 { // more files than one batch holds, and more bytes than its arena
		dir := filepath.Join(root, fmt.Sprintf("d%d", d))
		os.Mkdir(dir, 0o755)
		for i, size := range sizes {
			p := filepath.Join(dir, fmt.Sprintf("f%d", i))
			if err := os.WriteFile(p, []byte(strings.Repeat(fmt.Sprint(d+i), size)[:size]), 0o644); err != nil {
				t.Fatal(err)
			}
			if i%3 == 0 {
				unix.Setxattr(p, "user.driftd", []byte(p), 0)
			}
		}
	}
	os.WriteFile(filepath.Join(root, "big"), make([]byte, bigFile+3), 0o644)
	rules := mustRules(t, matrixRules)
	before, fds := ringFiles.Load(), openFds(t)
	viaRing := walkTree(t, root, rules)
	if ringFiles.Load() == before {
		t.Fatal("no file was read through the ring")
	}
	if n := openFds(t); n != fds {
		t.Fatalf("%d descriptors open after the walk, %d before", n, fds)
	}
	noRing.Store(true)
	defer noRing.Store(false)
	viaRead := walkTree(t, root, rules)
	if len(viaRing) != len(viaRead) || len(viaRead) < 40*len(sizes)+1 {
		t.Fatalf("%d entries through the ring, %d with read(2)", len(viaRing), len(viaRead))
	}
	for i := range viaRead {
		if !reflect.DeepEqual(viaRing[i], viaRead[i]) {
			t.Fatalf("through the ring %+v\nwith read(2)     %+v", viaRing[i], viaRead[i])
		}
		if e := viaRead[i]; e.Type == baseline.TypeRegular && !e.HasDigest() {
			t.Fatalf("%s: %s", e.Path, e.Err)
		}
	}
}

// TestRingReadOfAChangedFile: a file that grows or shrinks after its fstat
// is read again with read(2), never digested at the size the ring saw, and
// its entry has the size its digest is of.
func TestRingReadOfAChangedFile(t *testing.T) {
	root := t.TempDir()
	grows, shrinks := filepath.Join(root, "grows"), filepath.Join(root, "shrinks")
	os.WriteFile(grows, []byte("before"), 0o644)
	os.WriteFile(shrinks, []byte("before, and more"), 0o644)
	wk := &walk{w: &Walker{Root: root}, ctx: context.Background()}
	bufs := newWorkerBufs(baseline.SHA256)
	defer bufs.dropRing()
	for _, p := range []string{grows, shrinks} {
		fd, err := unix.Open(p, unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		e := entryFromStat(p, &st)
		if !wk.queueRead(fd, &e, bufs) {
			t.Fatal("a small file was not left to the ring")
		}
	}
	os.WriteFile(grows, []byte("before, and after"), 0o644)
	os.WriteFile(shrinks, []byte("after"), 0o644)
	wk.flushReads(bufs)
	if len(bufs.batch) != 2 {
		t.Fatalf("%d entries recorded, want 2", len(bufs.batch))
	}
	for i, want := range []string{"before, and after", "after"} {
		e := bufs.batch[i]
		if e.Err != "" || e.Digest != sha256.Sum256([]byte(want)) {
			t.Errorf("%s: digest of %q wanted, got err %q", e.Path, want, e.Err)
		}
		if e.Size != int64(len(want)) {
			t.Errorf("%s: size %d beside the digest of %d bytes", e.Path, e.Size, len(want))
		}
	}
	if len(bufs.ring.files) != 0 {
		t.Fatal("the batch was not emptied")
	}
}

func openFds(t *testing.T) int {
	t.Helper()
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(des)
}
