package attrib

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkTracerOverhead: what the tracer costs a write-heavy workload
// outside the directories it watches (20,000 files written, then 1,000
// short processes), alternating rounds with the tracer open (eBPF table
// and fanotify marks on a watched directory) and closed, best of 5 each
// (target: within 5%).
func BenchmarkTracerOverhead(b *testing.B) {
	watched := b.TempDir()
	workload := func() time.Duration {
		dir := b.TempDir()
		start := time.Now()
		data := make([]byte, 16<<10)
		for i := range 20000 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d", i)), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		for range 1000 {
			if err := exec.Command("/bin/true").Run(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	var off, on time.Duration
	for b.Loop() {
		for range 5 {
			if w := workload(); off == 0 || w < off {
				off = w
			}
			tr, err := Open(nil)
			if err != nil || tr.Backend() != BackendEBPF {
				b.Fatalf("open the eBPF backend: %v", err)
			}
			tr.Watch(watched)
			if w := workload(); on == 0 || w < on {
				on = w
			}
			tr.Close()
		}
	}
	fmt.Printf("\nworkload outside the watched directories, best of 5: tracer closed %v, open %v (%.3fx)\n",
		off.Round(time.Millisecond), on.Round(time.Millisecond), float64(on)/float64(off))
	b.ReportMetric(float64(on)/float64(off), "on/off")
}
