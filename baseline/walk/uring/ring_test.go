package uring

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func newRing(t *testing.T, entries uint32) *Ring {
	t.Helper()
	r, err := New(entries)
	if err != nil {
		t.Fatalf("this kernel refuses io_uring, which the walk then does without: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestReadThenClose reads files of several sizes through the ring, as
// pread from offset 0 (the position does not move), then closes them.
func TestReadThenClose(t *testing.T) {
	r := newRing(t, 8)
	dir := t.TempDir()
	contents := [][]byte{nil, []byte("x"), bytes.Repeat([]byte("driftd"), 10_000)}
	fds := make([]int, len(contents))
	bufs := make([][]byte, len(contents))
	for i, c := range contents {
		p := filepath.Join(dir, string(rune('a'+i)))
		if err := os.WriteFile(p, c, 0o644); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(p, unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds[i] = fd
		bufs[i] = make([]byte, len(c)+1) // room for one byte more: a full buffer means the file grew
		if err := r.Read(fd, bufs[i], uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	got := map[uint64]int32{}
	if err := r.Run(func(tag uint64, res int32) { got[tag] = res }); err != nil {
		t.Fatal(err)
	}
	for i, c := range contents {
		if got[uint64(i)] != int32(len(c)) || !bytes.Equal(bufs[i][:len(c)], c) {
			t.Errorf("file %d: read %d bytes, want %d", i, got[uint64(i)], len(c))
		}
		if pos, _ := unix.Seek(fds[i], 0, 1); pos != 0 {
			t.Errorf("file %d: position %d after the read, want 0", i, pos)
		}
	}

	for i, fd := range fds {
		if err := r.CloseFd(fd, uint64(10+i)); err != nil {
			t.Fatal(err)
		}
	}
	clear(got)
	if err := r.Run(func(tag uint64, res int32) { got[tag] = res }); err != nil {
		t.Fatal(err)
	}
	for i, fd := range fds {
		if res, ok := got[uint64(10+i)]; !ok || res != 0 {
			t.Errorf("close %d: result %d (reported %v)", i, res, ok)
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
			t.Errorf("fd %d still open after its close: %v", fd, err)
		}
	}
}

// TestErrorsAreResults: a failed request reports -errno to its callback,
// and the ring goes on.
func TestErrorsAreResults(t *testing.T) {
	r := newRing(t, 4)
	buf := make([]byte, 8)
	r.Read(1<<20, buf, 1) // no such descriptor
	var res int32
	if err := r.Run(func(_ uint64, r int32) { res = r }); err != nil {
		t.Fatal(err)
	}
	if res != -int32(unix.EBADF) {
		t.Fatalf("read of a bad descriptor: %d, want -EBADF", res)
	}
	if r.Broken() {
		t.Fatal("a failed request broke the ring")
	}
}

// TestFull: no more requests are taken than the ring can complete at once.
func TestFull(t *testing.T) {
	r := newRing(t, 2)
	n := 0
	for ; r.CloseFd(-1, 0) == nil; n++ {
		if n > 64 {
			t.Fatal("the ring never says it is full")
		}
	}
	if n != r.maxBatched {
		t.Fatalf("took %d requests, the ring holds %d", n, r.maxBatched)
	}
	done := 0
	r.Run(func(uint64, int32) { done++ })
	if done != n {
		t.Fatalf("%d of %d requests completed", done, n)
	}
	if err := r.CloseFd(-1, 0); err != nil {
		t.Fatalf("after Run the ring is still full: %v", err)
	}
}

// TestRefused: only what no later try can change turns the ring off for
// good; a want of descriptors or memory does not.
func TestRefused(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("io_uring_setup: %w", unix.ENOSYS), true},
		{fmt.Errorf("io_uring_setup: %w", unix.EPERM), true},
		{fmt.Errorf("io_uring_setup: %w", unix.EINVAL), true},
		{fmt.Errorf("%w: kernel older than 5.6", errOldKernel), true},
		{fmt.Errorf("io_uring_setup: %w", unix.EMFILE), false},
		{fmt.Errorf("io_uring: map rings: %w", unix.ENOMEM), false},
	} {
		if got := Refused(tt.err); got != tt.want {
			t.Errorf("Refused(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
