package containers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplacementMarkSurvivesARestart: a container marked for replacement
// is still marked when the monitor starts again, and its hook does not
// run a second time.
func TestReplacementMarkSurvivesARestart(t *testing.T) {
	stateDir := t.TempDir()
	hookLog := filepath.Join(t.TempDir(), "hook.log")
	tune := func(c *Config, o *Options) {
		o.StateDir = stateDir
		c.Hook.Command = []string{"/bin/sh", "-c", "echo \"$DRIFTD_PATH\" >> " + hookLog}
	}
	hookRuns := func() int {
		b, _ := os.ReadFile(hookLog)
		return strings.Count(string(b), "\n")
	}
	_, evs, _ := startMonitor(t, tune)
	merged, _ := overlayMount(t, func(lower string) { put(t, lower+"/etc/a", "a\n", 0o644) })
	evs.waitFor(t, "container_found", "", merged)
	put(t, merged+"/usr/bin/evil", "\x7fELF", 0o755)
	evs.waitFor(t, "container_taint", "", merged)
	deadline := time.Now().Add(10 * time.Second)
	for hookRuns() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := hookRuns(); n != 1 {
		t.Fatalf("the hook ran %d times, want 1", n)
	}

	m2, evs2, _ := startMonitor(t, tune)
	c := snapshotOf(t, m2, merged)
	for len(c.Findings) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		c = snapshotOf(t, m2, merged)
	}
	if !c.ReplacementRequired || len(c.Findings) == 0 {
		t.Fatalf("after a restart: replacement_required %v, findings %d", c.ReplacementRequired, len(c.Findings))
	}
	time.Sleep(300 * time.Millisecond) // a hook would have started by now
	for _, ev := range evs2.all(t) {
		if ev.Msg == "container_taint" {
			t.Errorf("marked again after a restart: %+v", ev)
		}
	}
	if n := hookRuns(); n != 1 {
		t.Errorf("the hook ran %d times after a restart, want 1", n)
	}
}
