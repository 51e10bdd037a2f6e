package attrib

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// writers are the mixed writers of the attribution rate: each makes one
// change to path and exits at once.
var writers = []struct {
	comm string
	cmd  func(path string) *exec.Cmd
}{
	{"sh", func(p string) *exec.Cmd { return exec.Command("sh", "-c", "echo x >> "+p) }},
	{"sed", func(p string) *exec.Cmd { return exec.Command("sed", "-i", "s/x/y/", p) }},
	{"cp", func(p string) *exec.Cmd { return exec.Command("cp", "/etc/hostname", p) }},
	{"python3", func(p string) *exec.Cmd {
		return exec.Command("/usr/bin/python3", "-c", "import sys; open(sys.argv[1], 'a').write('z')", p)
	}},
}

// attributionRate makes n changes with the mixed writers and returns the
// share the tracer named rightly: the writer's own pid and name.
func attributionRate(tb testing.TB, tr *Tracer, n int) float64 {
	tb.Helper()
	dir := tb.TempDir()
	tr.Watch(dir)
	pids := make([]int, n)
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("f%d", i))
		if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
			tb.Fatal(err)
		}
		cmd := writers[i%len(writers)].cmd(p)
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("%v: %v: %s", cmd.Args, err, out)
		}
		pids[i] = cmd.Process.Pid
	}
	named := 0
	deadline := time.Now().Add(5 * time.Second)
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("f%d", i))
		for {
			w, ok := tr.Writer(p)
			if ok && int(w.PID) == pids[i] && w.Comm == writers[i%len(writers)].comm {
				named++
				break
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	return float64(named) / float64(n)
}

// TestAttributionRate: at least 99% of 1000 changes by writers that exit
// at once are named rightly with the eBPF backend.
func TestAttributionRate(t *testing.T) {
	tr := openTracer(t)
	rate := attributionRate(t, tr, 1000)
	t.Logf("eBPF backend: %.1f%% of 1000 changes named", 100*rate)
	if rate < 0.99 {
		t.Errorf("named %.1f%% of the changes, want at least 99%%", 100*rate)
	}
}

// BenchmarkAttributionRate prints the share of changes each backend names
// (named/op), on the same mixed writers.
func BenchmarkAttributionRate(b *testing.B) {
	for _, backend := range []string{BackendEBPF, BackendFanotify} {
		b.Run(backend, func(b *testing.B) {
			tr, err := Open(nil)
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Close()
			if backend == BackendFanotify && tr.procs != nil {
				tr.procs.close()
				tr.procs = nil
			}
			if tr.Backend() != backend {
				b.Fatalf("backend %s, want %s", tr.Backend(), backend)
			}
			var rate float64
			for b.Loop() {
				rate = attributionRate(b, tr, 400)
			}
			b.ReportMetric(100*rate, "%named")
		})
	}
}
