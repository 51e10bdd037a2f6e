package walk

import (
	"context"
	"slices"
	"strings"

	"driftd/baseline"
)

// Compare walks path below w.Root (everything, for "/") and compares
// what it finds with base. It returns the result and the number of
// entries walked.
func Compare(ctx context.Context, w *Walker, base *baseline.Base, path string) (baseline.Result, int, error) {
	return CompareWith(ctx, w, baseline.NewScopedComparer(base, w.Rules, path), path)
}

// CompareWith is Compare with a comparer the caller made (and set up:
// see Comparer.Accept); it must be scoped to path.
func CompareWith(ctx context.Context, w *Walker, c *baseline.Comparer, path string) (baseline.Result, int, error) {
	n := 0
	var byPath []*baseline.Entry
	err := w.WalkPathFunc(ctx, path, func(batch []baseline.Entry) {
		n += len(batch)
		// A batch is a directory's entries (or a big file). Sorted, its
		// lookups go on from one another in a block or two of the baseline.
		byPath = byPath[:0]
		for i := range batch {
			byPath = append(byPath, &batch[i])
		}
		slices.SortFunc(byPath, func(a, b *baseline.Entry) int { return strings.Compare(a.Path, b.Path) })
		for _, e := range byPath {
			c.Observe(e)
		}
	})
	if err != nil {
		return baseline.Result{}, n, err
	}
	return c.Result(), n, nil
}
