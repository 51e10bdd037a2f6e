package walk

import (
	"context"

	"driftd/baseline"
)

// Compare walks path below w.Root (everything, for "/") and compares
// what it finds with base. visit, when set, also sees each batch. It
// returns the result and the number of entries walked.
func Compare(ctx context.Context, w *Walker, base []baseline.Entry, path string, visit func([]baseline.Entry)) (baseline.Result, int, error) {
	c := baseline.NewScopedComparer(base, w.Rules, path)
	n := 0
	err := w.WalkPathFunc(ctx, path, func(batch []baseline.Entry) {
		n += len(batch)
		for i := range batch {
			c.Observe(&batch[i])
		}
		if visit != nil {
			visit(batch)
		}
	})
	if err != nil {
		return baseline.Result{}, n, err
	}
	return c.Result(), n, nil
}
