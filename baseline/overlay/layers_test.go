package overlay

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"

	"golang.org/x/sys/unix"
)

// threeLayers builds an image of three layers, where the upper ones
// remove (whiteout) and replace (opaque) what the base has, and returns
// them top-most first.
func threeLayers(t *testing.T) (top, mid, base string) {
	t.Helper()
	dir := t.TempDir()
	top, mid, base = filepath.Join(dir, "top"), filepath.Join(dir, "mid"), filepath.Join(dir, "base")
	write(t, base+"/etc/a", "base a", 0o644)
	write(t, base+"/etc/b", "base b", 0o644)
	write(t, base+"/etc/c", "base c", 0o644)
	write(t, base+"/srv/old", "old", 0o644)
	write(t, base+"/var/x", "x", 0o644)
	write(t, mid+"/etc/b", "mid b", 0o644)
	write(t, mid+"/srv/new", "new", 0o644)
	if err := unix.Setxattr(mid+"/srv", "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	write(t, top+"/etc/d", "top d", 0o644)
	if err := unix.Mknod(top+"/etc/a", unix.S_IFCHR, 0); err != nil { // a whiteout
		t.Fatal(err)
	}
	if err := unix.Mknod(top+"/var", unix.S_IFCHR, 0); err != nil { // a whole directory removed
		t.Fatal(err)
	}
	return top, mid, base
}

// TestLookupLowerFollowsTheLayers: each path is found in the layer the
// mount would show it from, or not at all.
func TestLookupLowerFollowsTheLayers(t *testing.T) {
	top, mid, base := threeLayers(t)
	l := Layers{Lower: []string{top, mid, base}}
	for rel, want := range map[string]string{
		"/etc/a":   "",
		"/etc/b":   mid + "/etc/b",
		"/srv/new": mid + "/srv/new",
		"/srv/old": "", // hidden by mid's opaque /srv
		"/var/x":   "",
		"/var":     "",
		"/etc":     top + "/etc", // the top-most copy of a directory
		"/nothing": "",
	} {
		if got := l.lookupLower(rel); got != want {
			t.Errorf("lookupLower(%s) = %q, want %q", rel, got, want)
		}
	}
}

// TestImageReadsTheLayersMerged: the image as a file system shows each
// name's top-most copy, merges directories down to an opaque one, and
// leaves out what a layer removed.
func TestImageReadsTheLayersMerged(t *testing.T) {
	top, mid, base := threeLayers(t)
	img := Layers{Lower: []string{top, mid, base}}.Image()
	if err := fstest.TestFS(img, "etc/b", "etc/c", "etc/d", "srv/new"); err != nil {
		t.Fatal(err)
	}
	// A link is not followed (TestFS would open it).
	if err := os.Symlink("/etc/shadow", top+"/etc/link"); err != nil {
		t.Fatal(err)
	}
	names := func(dir string) []string {
		entries, err := fs.ReadDir(img, dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	for dir, want := range map[string][]string{".": {"etc", "srv"}, "etc": {"b", "c", "d", "link"}, "srv": {"new"}} {
		if got := names(dir); !slices.Equal(got, want) {
			t.Errorf("ReadDir(%s) = %v, want %v", dir, got, want)
		}
	}
	if b, err := fs.ReadFile(img, "etc/b"); err != nil || string(b) != "mid b" {
		t.Errorf("etc/b = %q, %v; want mid's copy", b, err)
	}
	for _, gone := range []string{"etc/a", "srv/old", "var/x", "var"} {
		if _, err := fs.Stat(img, gone); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want not found", gone, err)
		}
	}
	if _, err := fs.ReadFile(img, "etc/link"); err == nil {
		t.Error("a symlink in the image was followed on the host")
	}
}
