package containers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"driftd/baseline/overlay/overlaytest"
	"driftd/reporter"
)

// events collects the monitor's JSON events, safe for the monitor's
// goroutines to write while the test reads.
type events struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (e *events) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.buf.Write(p)
}

type event struct {
	Msg       string             `json:"msg"`
	Time      time.Time          `json:"time"`
	Path      string             `json:"path"`
	Kind      string             `json:"kind"`
	Category  string             `json:"category"`
	Severity  string             `json:"severity"`
	FoundBy   string             `json:"found_by"`
	Container reporter.Container `json:"container"`
}

func (e *events) all(t *testing.T) []event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []event
	sc := bufio.NewScanner(bytes.NewReader(e.buf.Bytes()))
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("event %s: %v", sc.Text(), err)
		}
		out = append(out, ev)
	}
	return out
}

// waitFor waits for an event about path in the container mounted at
// point, and returns it.
func (e *events) waitFor(t *testing.T, msg, path, name string) event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, ev := range e.all(t) {
			if ev.Msg == msg && ev.Path == path && ev.Container.Name == name {
				return ev
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s event for %s in %s within 10s; events:\n%s", msg, path, name, e.buf.String())
	return event{}
}

// overlayMount mounts an overlay of lower (built by the test) and returns
// its mount point; unmount unmounts it.
func overlayMount(t *testing.T, build func(lower string)) (merged string, unmount func()) {
	t.Helper()
	_, _, merged, unmount = overlaytest.Mount(t, build)
	return merged, unmount
}

var put = overlaytest.Write

// startMonitor runs a monitor on the default config, changed by tune,
// until the test ends.
func startMonitor(t *testing.T, tune func(*Config, *Options)) (*Monitor, *events, *reporter.Metrics) {
	t.Helper()
	cfg := Default()
	cfg.Interval.Duration = 200 * time.Millisecond
	evs := &events{}
	metrics := reporter.NewMetrics("test", reporter.MetricsConfig{})
	opts := Options{Debounce: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Events: slog.New(slog.NewJSONHandler(evs, nil)), Metrics: metrics.NewContainerMetrics()}
	if tune != nil {
		tune(&cfg, &opts)
	}
	rules, err := cfg.Validate()
	if err != nil {
		t.Fatal(err)
	}
	m := NewMonitor(cfg, rules, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return m, evs, metrics
}

// TestMonitorSeesEachChangeInRealTime: a container (an overlay mount the
// test makes) is found, and each kind of change made through it is
// reported, with its kind and severity, as it happens; when it goes, so
// do its series.
func TestMonitorSeesEachChangeInRealTime(t *testing.T) {
	_, evs, metrics := startMonitor(t, nil)
	merged, unmount := overlayMount(t, func(lower string) {
		put(t, lower+"/etc/app.conf", "port = 80\n", 0o644)
		put(t, lower+"/etc/gone.conf", "bye\n", 0o644)
		put(t, lower+"/usr/local/bin/script", "echo hi\n", 0o644)
		put(t, lower+"/opt/app/a", "a\n", 0o644)
		put(t, lower+"/opt/app/b", "b\n", 0o644)
	})
	name := merged // no runtime's metadata: named by its mount point
	evs.waitFor(t, "container_found", "", name)
	// The first walk runs after container_found: a change it may see or
	// not, reported once it is over, so that each step below is the
	// watch's.
	put(t, filepath.Join(merged, "/etc/warmup"), "w\n", 0o644)
	evs.waitFor(t, "drift", "/etc/warmup", name)

	type step struct {
		do                       func()
		path, kind, sev, msgKind string
	}
	m := func(p string) string { return filepath.Join(merged, p) }
	steps := []step{
		{func() { put(t, m("/etc/new.conf"), "new\n", 0o644) }, "/etc/new.conf", "added", "high", "drift"},
		{func() { put(t, m("/etc/app.conf"), "port = 8080\n", 0o644) }, "/etc/app.conf", "modified", "high", "drift"},
		{func() { os.Remove(m("/etc/gone.conf")) }, "/etc/gone.conf", "removed", "high", "drift"},
		{func() { put(t, m("/usr/bin/dropped"), "\x7fELF", 0o755) }, "/usr/bin/dropped", "added", "critical", "drift"},
		{func() { os.Chmod(m("/usr/local/bin/script"), 0o755) }, "/usr/local/bin/script", "modified", "critical", "drift"},
		{func() { os.RemoveAll(m("/opt/app")); put(t, m("/opt/app/c"), "c\n", 0o644) }, "/opt/app/b", "removed", "high", "drift"},
		{func() { put(t, m("/tmp/scratch"), "x", 0o644) }, "", "", "", ""}, // ignored: nothing
		{func() { os.Remove(m("/etc/new.conf")) }, "/etc/new.conf", "added", "high", "reverted"},
	}
	var worst time.Duration
	for _, s := range steps {
		start := time.Now()
		s.do()
		if s.path == "" {
			continue
		}
		ev := evs.waitFor(t, s.msgKind, s.path, name)
		if ev.Kind != s.kind || ev.Severity != s.sev {
			t.Errorf("%s %s: kind %s severity %s, want %s %s", s.msgKind, s.path, ev.Kind, ev.Severity, s.kind, s.sev)
		}
		if s.msgKind == "drift" && ev.FoundBy != "watch" {
			t.Errorf("%s: found_by %q, want watch", s.path, ev.FoundBy)
		}
		worst = max(worst, ev.Time.Sub(start))
	}
	t.Logf("slowest change reported after %s", worst)
	for _, ev := range evs.all(t) {
		if strings.HasPrefix(ev.Path, "/tmp") {
			t.Errorf("an ignored path was reported: %+v", ev)
		}
	}
	drift := func() int { return series(t, metrics, "driftd_container_drift_paths", name) }
	if n := drift(); n != 2 { // high and critical
		t.Errorf("driftd_container_drift_paths has %d series, want 2", n)
	}
	unmount()
	evs.waitFor(t, "container_gone", "", name)
	if n := drift(); n != 0 {
		t.Errorf("after the container went, driftd_container_drift_paths has %d series, want 0", n)
	}
	if n := series(t, metrics, "driftd_container_info", name); n != 0 {
		t.Errorf("after the container went, driftd_container_info has %d series", n)
	}
}

// series counts the series of the metric name about the container
// labelled container in the registry (others may run on the machine).
func series(t *testing.T, m *reporter.Metrics, name, container string) int {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			n := 0
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "container" && l.GetValue() == container {
						n++
					}
				}
			}
			return n
		}
	}
	return 0
}
