package overlaytest

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// Mount mounts an overlay of the image tree in lower (made by build), and
// returns its upper and lower directories and its mount point. The test's
// cleanup unmounts it; unmount does so at once.
func Mount(t testing.TB, build func(lower string)) (upper, lower, merged string, unmount func()) {
	t.Helper()
	dir := t.TempDir()
	lower, upper, merged = filepath.Join(dir, "lower"), filepath.Join(dir, "upper"), filepath.Join(dir, "merged")
	work := filepath.Join(dir, "work")
	for _, d := range []string{lower, upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	build(lower)
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay (needs root and overlayfs): %v", err)
	}
	var once sync.Once
	unmount = func() { once.Do(func() { unix.Unmount(merged, unix.MNT_DETACH) }) }
	t.Cleanup(unmount)
	return upper, lower, merged, unmount
}

// Write writes the file at path with content and mode (umask aside),
// making its directories.
func Write(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
