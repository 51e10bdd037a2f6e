package walk

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"driftd/baseline"
)

// TestReadEntryIsWalk: one path read alone is recorded as the walk
// records it (a file with an xattr, a symlink, a directory, a fifo), and
// nothing at a path is not an entry.
func TestReadEntryIsWalk(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "dir"), 0o750)
	os.WriteFile(filepath.Join(root, "dir/file"), []byte("content"), 0o640)
	if err := unix.Setxattr(filepath.Join(root, "dir/file"), "user.note", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	os.Symlink("dir/file", filepath.Join(root, "link"))
	unix.Mkfifo(filepath.Join(root, "fifo"), 0o600)
	rules, err := baseline.CompileRules([]baseline.RuleConfig{{Paths: []string{"/**"}, Category: "system", Severity: "high"}})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := (&Walker{Root: root, Rules: rules, Workers: 1}).Walk(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range entries {
		if want.Path == "/" {
			continue
		}
		got, ok := ReadEntry(context.Background(), root+want.Path, want.Path)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("ReadEntry(%s) = %+v, %v\nwalk: %+v", want.Path, got, ok, want)
		}
	}
	if len(entries) != 5 {
		t.Errorf("walk recorded %d entries, want 5", len(entries))
	}
	if _, ok := ReadEntry(context.Background(), root+"/none", "/none"); ok {
		t.Error("an entry for nothing")
	}
}
