package walk

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"driftd/baseline"
)

// TestWalkUnderChurn walks a tree while files in it appear, vanish and
// change type (file, directory, symlink, FIFO). The walk must neither fail
// nor crash nor hang, and must report every stable file, verified: with
// small files read through the worker's ring, and with read(2) alone.
func TestWalkUnderChurn(t *testing.T) {
	t.Run("ring", func(t *testing.T) { walkUnderChurn(t) })
	t.Run("read", func(t *testing.T) {
		noRing.Store(true)
		defer noRing.Store(false)
		walkUnderChurn(t)
	})
}

func walkUnderChurn(t *testing.T) {
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
	deadline := time.Now().Add(1500 * time.Millisecond)
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
	entries := make([]baseline.Entry, len(paths))
	for i, p := range paths {
		entries[i] = baseline.Entry{Path: p, Size: int64(len(p))}
	}
	baseline.SortEntries(entries)
	want := []string{"/", "/a", "/a-b", "/a/a", "/a/b", "/b", "/c", "/c\xff"}
	for i, e := range entries {
		if e.Path != want[i] || e.Size != int64(len(want[i])) {
			t.Fatalf("sorted = %v, want %v", entries, want)
		}
	}
}

func TestFastScan(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, matrixTree)
	rules := mustRules(t, matrixRules)
	base := walkTree(t, root, rules)

	fast := func() (baseline.Result, int64) {
		p := &Progress{}
		w := &Walker{Root: root, Rules: rules, Workers: 2, Known: baseline.KnownFrom(baseline.BaseOf(baseline.Pack(base))), Progress: p}
		res, _, err := Compare(context.Background(), w, baseline.BaseOf(baseline.Pack(base)), "/")
		if err != nil {
			t.Fatal(err)
		}
		return res, p.Bytes.Load()
	}
	if res, hashed := fast(); !res.Clean() || hashed != 0 {
		t.Fatalf("fast scan of an untouched tree: %v, %d bytes hashed", summary(res), hashed)
	}
	// Content changed, mtime put back: the ctime moved, so the fast scan
	// re-hashes the file and sees it.
	p := filepath.Join(root, "etc/app.conf")
	fi, _ := os.Stat(p)
	os.WriteFile(p, []byte("listen = 9090\n"), 0o644)
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	res, hashed := fast()
	if got := summary(res); !slices.Equal(got, []string{"modified /etc/app.conf [content]"}) || hashed != 14 {
		t.Errorf("fast scan after a hidden content change: %v, %d bytes hashed", got, hashed)
	}
}

func TestWalkPathScoped(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, matrixTree)
	rules := mustRules(t, matrixRules)
	base := walkTree(t, root, rules)
	scoped := func(path string) []string {
		w := &Walker{Root: root, Rules: rules, Workers: 2}
		res, _, err := Compare(context.Background(), w, baseline.BaseOf(baseline.Pack(base)), path)
		if err != nil {
			t.Fatal(err)
		}
		return summary(res)
	}
	for _, p := range []string{"/data", "/data/sub", "/etc/app.conf", "/etc/current", "/nope"} {
		if got := scoped(p); got != nil {
			t.Errorf("untouched %s: %v", p, got)
		}
	}
	os.WriteFile(filepath.Join(root, "data/sub/file"), []byte("changed"), 0o644)
	os.WriteFile(filepath.Join(root, "data/sub/new"), []byte("new"), 0o644)
	os.Remove(filepath.Join(root, "data/keep"))
	want := []string{"added /data/sub/new", "modified /data/sub/file [content,size,mtime]"}
	if got := scoped("/data/sub"); !slices.Equal(got, want) {
		t.Errorf("scope /data/sub: %v, want %v", got, want)
	}
	if got := scoped("/data/keep"); !slices.Equal(got, []string{"removed /data/keep"}) {
		t.Errorf("scope /data/keep: %v", got)
	}
	os.RemoveAll(filepath.Join(root, "data"))
	want = []string{"removed /data", "removed /data/empty", "removed /data/keep", "removed /data/sub",
		"removed /data/sub/deep", "removed /data/sub/deep/one", "removed /data/sub/file"}
	if got := scoped("/data"); !slices.Equal(got, want) {
		t.Errorf("scope /data after rm -r: %v, want %v", got, want)
	}
}

func TestRateLimit(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]file{"/a": {content: strings.Repeat("x", 300<<10)}, "/b": {content: strings.Repeat("y", 300<<10)}})
	w := &Walker{Root: root, Rules: mustRules(t, matrixRules), Workers: 2, BytesPerSecond: 1 << 20}
	start := time.Now()
	if _, err := w.Walk(context.Background()); err != nil {
		t.Fatal(err)
	}
	// 600 KiB at 1 MiB/s: at least about half a second.
	if d := time.Since(start); d < 450*time.Millisecond {
		t.Errorf("600 KiB hashed in %v at 1 MiB/s", d)
	}
}

// TestWalkPackedIsWalk: the packed walk (the bake's) holds what Walk
// returns, in order, across more entries than a chunk.
func TestWalkPackedIsWalk(t *testing.T) {
	root := t.TempDir()
	for d := range 9 {
		dir := filepath.Join(root, fmt.Sprintf("d%d", d), "sub")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range 1000 {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", f)), []byte(fmt.Sprint(d, f)), 0o644)
		}
		os.Symlink("sub", filepath.Join(root, fmt.Sprintf("d%d", d), "link"))
	}
	rules, err := baseline.CompileRules([]baseline.RuleConfig{{Paths: []string{"/**"}, Category: "system", Severity: "high"}})
	if err != nil {
		t.Fatal(err)
	}
	w := &Walker{Root: root, Rules: rules, Workers: 2}
	want, err := w.Walk(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	packed, err := w.WalkPacked(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := packed.Unpack()
	if len(got) != len(want) || len(want) < 9000 {
		t.Fatalf("packed walk: %d entries, walk: %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("entry %d: packed %+v, walk %+v", i, got[i], want[i])
		}
	}
}

// TestBigDirectoryInParts: a directory of more files than a batch holds is
// handed over in batches of at most maxBatch, every file in one of them
// with its digest, through the ring and through read(2).
func TestBigDirectoryInParts(t *testing.T) {
	root := t.TempDir()
	files := map[string]file{}
	for i := range 3*maxBatch + 7 {
		files[fmt.Sprintf("/big/f%05d", i)] = file{content: fmt.Sprint("content ", i)}
	}
	writeTree(t, root, files)
	rules, err := baseline.CompileRules([]baseline.RuleConfig{{Paths: []string{"/**"}, Category: "system", Severity: "high"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ring := range []bool{true, false} {
		noRing.Store(!ring)
		seen := map[string]bool{}
		err := (&Walker{Root: root, Rules: rules, Workers: 2}).WalkFunc(context.Background(), func(batch []baseline.Entry) {
			if len(batch) > maxBatch {
				t.Errorf("ring %v: a batch of %d", ring, len(batch))
			}
			for _, e := range batch {
				if f, ok := files[e.Path]; ok {
					if e.Digest != sha256.Sum256([]byte(f.content)) || e.Err != "" {
						t.Errorf("ring %v: %s: digest or error %q wrong", ring, e.Path, e.Err)
					}
					seen[e.Path] = true
				}
			}
		})
		noRing.Store(false)
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != len(files) {
			t.Errorf("ring %v: %d of %d files seen", ring, len(seen), len(files))
		}
	}
}
