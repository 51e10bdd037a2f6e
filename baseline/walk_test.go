package baseline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestWalkUnderChurn walks a tree while files in it appear, vanish and
// change type (file, directory, symlink, FIFO). The walk must neither fail
// nor crash nor hang, and must report every stable file, verified.
func TestWalkUnderChurn(t *testing.T) {
	root := t.TempDir()
	stable := map[string]file{}
	for i := range 200 {
		stable[fmt.Sprintf("/stable/d%d/f%d", i%10, i)] = file{content: fmt.Sprint(i)}
	}
	stable["/stable/big"] = file{content: string(make([]byte, bigFile+1))}
	writeTree(t, root, stable)
	churn := filepath.Join(root, "churn")
	os.Mkdir(churn, 0o755)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				p := filepath.Join(churn, fmt.Sprintf("x%d-%d", w, i%16))
				os.RemoveAll(p)
				switch i % 4 {
				case 0:
					os.WriteFile(p, []byte("content"), 0o644)
				case 1:
					os.MkdirAll(filepath.Join(p, "sub"), 0o755)
					os.WriteFile(filepath.Join(p, "sub", "f"), []byte("x"), 0o644)
				case 2:
					os.Symlink("/nowhere", p)
				case 3:
					mkfifo(p)
				}
			}
		})
	}
	defer func() {
		cancel()
		wg.Wait()
	}()

	rules := mustRules(t, matrixRules)
	deadline := time.Now().Add(3 * time.Second)
	walks := 0
	for walks < 5 || time.Now().Before(deadline) {
		entries := walkTree(t, root, rules)
		walks++
		got := 0
		for _, e := range entries {
			if _, ok := stable[e.Path]; ok {
				got++
				if e.Err != "" || !e.HasDigest() {
					t.Fatalf("walk %d: stable %s: %q", walks, e.Path, e.Err)
				}
			}
		}
		if got != len(stable) {
			t.Fatalf("walk %d: %d of %d stable files", walks, got, len(stable))
		}
	}
	t.Logf("%d walks under churn", walks)
}

func TestSortEntries(t *testing.T) {
	paths := []string{"/b", "/a/b", "/a", "/a-b", "/", "/c\xff", "/a/a", "/c"}
	entries := make([]Entry, len(paths))
	for i, p := range paths {
		entries[i] = Entry{Path: p, Size: int64(len(p))}
	}
	SortEntries(entries)
	want := []string{"/", "/a", "/a-b", "/a/a", "/a/b", "/b", "/c", "/c\xff"}
	for i, e := range entries {
		if e.Path != want[i] || e.Size != int64(len(want[i])) {
			t.Fatalf("sorted = %v, want %v", entries, want)
		}
	}
}
