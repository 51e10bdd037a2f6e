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

// ShowProgress redraws one status line on w (entries, bytes, hash rate)
// until the returned stop is called; stop clears the line and returns once
// the drawing goroutine has ended.
func ShowProgress(w io.Writer, verb string, p *walk.Progress) (stop func()) {
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
				bytes := p.Bytes.Load()
				rate := float64(bytes) / time.Since(start).Seconds()
				fmt.Fprintf(w, "\r\033[K%s: %d entries, %s hashed, %s/s", verb, p.Entries.Load(), humanBytes(float64(bytes)), humanBytes(rate))
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
