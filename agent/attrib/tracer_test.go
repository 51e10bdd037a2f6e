package attrib

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

// openTracer opens the best backend, which on this machine's kernel is
// eBPF: anything less is a failure, not a skip.
func openTracer(t *testing.T) *Tracer {
	t.Helper()
	tr, err := Open(nil)
	if err != nil || tr.Backend() != BackendEBPF {
		t.Fatalf("open the eBPF backend: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// waitWriter waits for the tracer to name the writer of path.
func waitWriter(t *testing.T, tr *Tracer, path string) Writer {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if w, ok := tr.Writer(path); ok {
			return w
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no writer named for %s", path)
	return Writer{}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}

// TestShortLivedWriters: each writer exits before user space could read
// its /proc entry, and is named all the same, with its executable and its
// parent.
func TestShortLivedWriters(t *testing.T) {
	tr := openTracer(t)
	dir := t.TempDir()
	tr.Watch(dir)
	conf := filepath.Join(dir, "app.conf")
	if err := os.WriteFile(conf, []byte("a=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, comm, exe string
		cmd                   []string
	}{
		{"redirect", conf, "sh", "/usr/bin/dash", []string{"sh", "-c", "echo b=2 >> " + conf}},
		{"sed -i", conf, "sed", "/usr/bin/sed", []string{"sed", "-i", "s/a=1/a=3/", conf}},
		{"cp", filepath.Join(dir, "ls"), "cp", "/usr/bin/cp", []string{"cp", "/usr/bin/ls", filepath.Join(dir, "ls")}},
		{"chmod", filepath.Join(dir, "ls"), "chmod", "/usr/bin/chmod", []string{"chmod", "4755", filepath.Join(dir, "ls")}},
		{"rm", filepath.Join(dir, "ls"), "rm", "/usr/bin/rm", []string{"rm", filepath.Join(dir, "ls")}},
	}
	// The test's own write is read first: under load its event can be
	// read after the first command has run, so each case waits for its
	// command's pid rather than for any writer seen after it started.
	waitWriter(t, tr, conf)
	for _, c := range cases {
		cmd := exec.Command(c.cmd[0], c.cmd[1:]...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", c.name, err, out)
		}
		pid := uint32(cmd.Process.Pid)
		deadline := time.Now().Add(5 * time.Second)
		var w Writer
		for time.Now().Before(deadline) {
			w, _ = tr.Writer(c.path)
			if w.PID == pid {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if w.PID != pid || w.Comm != c.comm || w.Exe != c.exe {
			t.Errorf("%s: writer %+v, want pid %d %s %s", c.name, w, pid, c.comm, c.exe)
		}
		if len(w.Ancestors) == 0 || w.Ancestors[0] != uint32(os.Getpid()) {
			t.Errorf("%s: ancestors %v, want the test (%d) first", c.name, w.Ancestors, os.Getpid())
		}
	}
}

// TestUnwatchedDirectory: changes outside the watched directories are not
// sent at all.
func TestUnwatchedDirectory(t *testing.T) {
	tr := openTracer(t)
	watched, other := t.TempDir(), t.TempDir()
	tr.Watch(watched)
	run(t, "sh", "-c", "echo x > "+filepath.Join(other, "f")+"; echo y > "+filepath.Join(watched, "g"))
	waitWriter(t, tr, filepath.Join(watched, "g"))
	if w, ok := tr.Writer(filepath.Join(other, "f")); ok {
		t.Errorf("a change outside the watched directories was named: %+v", w)
	}
	tr.Unwatch(watched)
	run(t, "sh", "-c", "echo z > "+filepath.Join(watched, "h"))
	run(t, "sh", "-c", "echo y > "+filepath.Join(watched, "g")) // a later one that would be seen
	time.Sleep(100 * time.Millisecond)
	if w, ok := tr.Writer(filepath.Join(watched, "h")); ok {
		t.Errorf("a change after Unwatch was named: %+v", w)
	}
}

// TestStormSharesWriter: the changes of one process share one copy of its
// strings and ancestors, so a storm of them costs the tracer a map entry
// each; another process's change has its own.
func TestStormSharesWriter(t *testing.T) {
	tr := openTracer(t)
	dir := t.TempDir()
	tr.Watch(dir)
	run(t, "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do echo x > "+dir+"/f$i; done")
	first := waitWriter(t, tr, filepath.Join(dir, "f1"))
	for i := 2; i <= 8; i++ {
		w := waitWriter(t, tr, filepath.Join(dir, "f"+strconv.Itoa(i)))
		if !w.Same(first) {
			t.Fatalf("f%d: writer %+v, want the one of f1, %+v", i, w, first)
		}
		if unsafe.StringData(w.Exe) != unsafe.StringData(first.Exe) || unsafe.SliceData(w.Ancestors) != unsafe.SliceData(first.Ancestors) {
			t.Errorf("f%d: the writer's exe and ancestors are a copy of their own", i)
		}
	}
	run(t, "touch", filepath.Join(dir, "other"))
	other := waitWriter(t, tr, filepath.Join(dir, "other"))
	if other.Same(first) || other.Comm != "touch" {
		t.Errorf("touch's change is named %+v", other)
	}
}
