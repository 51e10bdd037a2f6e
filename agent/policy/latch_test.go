package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"driftd/baseline"
)

func testPolicy(t *testing.T) (*Config, string) {
	t.Helper()
	p := Default()
	p.MarkerFile = filepath.Join(t.TempDir(), "run", "replacement-required")
	return &p, t.TempDir()
}

func TestLatchTripsOnceAndHolds(t *testing.T) {
	p, dir := testPolicy(t)
	l, err := Open(dir, p)
	if err != nil || l.Tainted() {
		t.Fatalf("a new state dir: tainted %v, err %v", l.Tainted(), err)
	}
	medium := &baseline.Finding{Path: "/etc/motd", Kind: baseline.Modified, Rule: &baseline.Rule{Category: "config", Severity: baseline.SeverityMedium}}
	if trip := p.ForFinding(medium); trip != nil {
		t.Fatalf("medium drift trips a critical policy: %+v", trip)
	}
	crit := &baseline.Finding{Path: "/root/.ssh/authorized_keys", Kind: baseline.Added, Rule: &baseline.Rule{Category: "ssh", Severity: baseline.SeverityCritical, Pattern: "/root/.ssh/**"}}
	if tripped, err := l.Trip(p.ForFinding(crit), "abc"); !tripped || err != nil {
		t.Fatalf("critical drift: tripped %v, err %v", tripped, err)
	}
	first := l.Taint.Since
	other := &baseline.Finding{Path: "/etc/ssh/sshd_config", Kind: baseline.Modified, Rule: crit.Rule}
	if tripped, _ := l.Trip(p.ForFinding(other), "abc"); tripped {
		t.Error("a set latch tripped again")
	}
	// What was saved is what a restart (or the next check) reads.
	again, err := Open(dir, p)
	if err != nil || !again.Tainted() || !again.Taint.Since.Equal(first) || again.Taint.Trigger.Path != "/root/.ssh/authorized_keys" {
		t.Errorf("reopened latch: %+v, err %v", again.Taint, err)
	}
}

func TestLatchUnreadableIsTainted(t *testing.T) {
	p, dir := testPolicy(t)
	os.WriteFile(LatchPath(dir), []byte("{not json"), 0o600)
	l, err := Open(dir, p)
	if err == nil || !l.Tainted() || !strings.Contains(l.Taint.Reason, "unreadable") {
		t.Errorf("an unreadable latch: tainted %v, reason %q, err %v", l.Tainted(), l.Taint.Reason, err)
	}
}

func TestLatchMarkerAndClear(t *testing.T) {
	p, dir := testPolicy(t)
	l, _ := Open(dir, p)
	l.Trip(&Trip{Reason: "test"}, "abc")
	if err := l.WriteMarker(); err != nil {
		t.Fatal(err)
	}
	l.WriteMarker() // idempotent: recorded once
	if n := len(l.Taint.Actions); n != 1 {
		t.Errorf("two identical marker writes recorded %d actions", n)
	}
	if _, err := os.Stat(p.MarkerFile); err != nil {
		t.Fatalf("marker: %v", err)
	}
	if _, err := l.Clear(""); err == nil {
		t.Error("a clear without a reason was taken")
	}
	was, err := l.Clear("replaced the key by hand, audited")
	if err != nil || was.Reason != "test" || l.Tainted() {
		t.Fatalf("clear: was %+v, err %v", was, err)
	}
	if _, err := os.Stat(p.MarkerFile); !os.IsNotExist(err) {
		t.Errorf("the marker outlived the clear: %v", err)
	}
	saved, _ := Read(dir)
	if saved.Tainted || saved.Cleared == nil || saved.Cleared.Was != "test" {
		t.Errorf("saved after clear: %+v", saved)
	}
}
