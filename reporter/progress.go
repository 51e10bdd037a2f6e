package reporter

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"driftd/baseline/walk"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// ShowProgress redraws one status line on w (entries, bytes, hash rate,
// and, from est, a percentage and the time left) until the returned stop
// is called; stop clears the line and returns once the drawing goroutine
// has ended.
func ShowProgress(w io.Writer, verb string, p *walk.Progress, est walk.Estimate) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				bytes, entries := p.Bytes.Load(), p.Entries.Load()
				elapsed := time.Since(start)
				rate := float64(bytes) / elapsed.Seconds()
				fmt.Fprintf(w, "\r\033[K%s: %d entries%s, %s hashed, %s/s", verb, entries, eta(entries, bytes, est, elapsed),
					humanBytes(float64(bytes)), humanBytes(rate))
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

func humanBytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}

// eta is " (~P%, ~T left)" from how far the walk is through the estimate:
// the further of entries and bytes, held below 100% until the walk ends
// (the estimate is a guess); empty without an estimate.
func eta(entries, bytes int64, est walk.Estimate, elapsed time.Duration) string {
	if est.Entries <= 0 && est.Bytes <= 0 {
		return ""
	}
	var f float64
	if est.Entries > 0 {
		f = float64(entries) / float64(est.Entries)
	}
	if est.Bytes > 0 {
		f = max(f, float64(bytes)/float64(est.Bytes))
	}
	f = min(f, 0.99)
	if f <= 0.01 {
		return fmt.Sprintf(" (~%.0f%%)", f*100)
	}
	left := time.Duration(float64(elapsed) * (1 - f) / f).Round(time.Second)
	return fmt.Sprintf(" (~%.0f%%, ~%s left)", f*100, left)
}
