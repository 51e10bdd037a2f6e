package overlay

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLookupLowerFollowsTheLayers: an image of three layers, where the
// upper ones remove (whiteout) and replace (opaque) what the base has.
func TestLookupLowerFollowsTheLayers(t *testing.T) {
	dir := t.TempDir()
	top, mid, base := filepath.Join(dir, "top"), filepath.Join(dir, "mid"), filepath.Join(dir, "base")
	write(t, base+"/etc/a", "base a", 0o644)
	write(t, base+"/etc/b", "base b", 0o644)
	write(t, base+"/srv/old", "old", 0o644)
	write(t, base+"/var/x", "x", 0o644)
	write(t, mid+"/etc/b", "mid b", 0o644)
	write(t, mid+"/srv/new", "new", 0o644)
	if err := unix.Setxattr(mid+"/srv", "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(top+"/etc", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(top+"/etc/a", unix.S_IFCHR, 0); err != nil { // a whiteout
		t.Fatal(err)
	}
	if err := unix.Mknod(top+"/var", unix.S_IFCHR, 0); err != nil { // a whole directory removed
		t.Fatal(err)
	}
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
