package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// treeSpec is a generated tree: files in directories (ten files to a
// directory, in two levels), with sizes drawn from a fixed seed so that
// every run, on every machine, walks the same tree. Sizes are mixed as an
// image's are: most files under 2 KiB, a few percent up to 256 KiB, a few
// large ones, and one symlink in 500 entries.
type treeSpec struct {
	files int
	seed  uint64
}

func (s treeSpec) dirs() int { return max(1, s.files/10) }

// stamp names the tree's parameters; a tree whose stamp file matches is
// complete and is reused.
func (s treeSpec) stamp() string {
	return fmt.Sprintf("driftd bench tree v1: %d files, seed %d\n", s.files, s.seed)
}

// leaf is the directory of leaf directory i.
func (s treeSpec) leaf(root string, i int) string {
	return filepath.Join(root, fmt.Sprintf("d%03d", i/1000), fmt.Sprintf("s%03d", i%1000))
}

// makeTree makes the tree at root, or reuses it when its stamp says it is
// this one. Making a million files takes a minute or two, so benchmarks
// keep theirs (DRIFTD_BENCH_TREE) between runs.
func makeTree(t testing.TB, root string, s treeSpec) {
	t.Helper()
	stampFile := filepath.Join(root, ".driftd-bench-tree")
	if b, err := os.ReadFile(stampFile); err == nil && string(b) == s.stamp() {
		return
	}
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	dirs := s.dirs()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(s.seed, uint64(w)))
			content := make([]byte, 256<<10)
			for i := range content {
				content[i] = byte(r.Uint32())
			}
			for d := w; d < dirs; d += 2 {
				dir := s.leaf(root, d)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					errs <- err
					return
				}
				for f := range 10 {
					n := d*10 + f
					if n >= s.files {
						break
					}
					path := filepath.Join(dir, fmt.Sprintf("f%07d", n))
					var err error
					switch p := r.IntN(1000); {
					case p < 2:
						err = os.Symlink(fmt.Sprintf("../s%03d/f%07d", r.IntN(1000), r.IntN(s.files)), path)
					case p < 850:
						err = os.WriteFile(path, content[r.IntN(1024):][:r.IntN(2048)], 0o644)
					case p < 990:
						err = os.WriteFile(path, content[r.IntN(1024):][:2048+r.IntN(14<<10)], 0o644)
					default:
						err = os.WriteFile(path, content[:16<<10+r.IntN(240<<10)], 0o755)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	// A few large files, hashed as jobs of their own.
	big := make([]byte, 64<<20)
	for i := range 4 {
		for k := range big {
			big[k] = byte(k*31 + i)
		}
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("big%d", i)), big, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(stampFile, []byte(s.stamp()), 0o644); err != nil {
		t.Fatal(err)
	}
}
