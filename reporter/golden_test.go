package reporter

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"driftd/baseline"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata from the renderings")

// golden compares got with testdata/name, or writes it there with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reporter -run Golden -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering (go test ./reporter -run Golden -update rewrites it after a deliberate change)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// goldenReport is a check of a host with some of everything: drift of
// several classes, a package change, an unverified path, pending
// first-boot paths, a seal made now, and a taint.
func goldenReport() *CheckReport {
	time.Local = time.UTC
	ssh := &baseline.Rule{Pattern: "/root/.ssh/**", Category: "ssh", Severity: baseline.SeverityCritical}
	cfg := &baseline.Rule{Pattern: "/etc/**", Category: "config", Severity: baseline.SeverityHigh}
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	before := &baseline.Entry{Path: "/etc/app.conf", Type: baseline.TypeRegular, Mode: 0o644, Size: 10, Mtime: at.Add(-time.Hour).UnixNano(), Digest: [32]byte{1}}
	after := &baseline.Entry{Path: "/etc/app.conf", Type: baseline.TypeRegular, Mode: 0o600, Size: 12, Mtime: at.UnixNano(), Digest: [32]byte{2}}
	m := &baseline.Manifest{
		Header:   baseline.Header{Labels: map[string]string{"image": "web", "version": "2026.12.01"}},
		Digest:   [32]byte{0xde, 0xad, 0xbe, 0xef, 0x12, 0x34},
		Verified: true,
	}
	return &CheckReport{
		Root: "/", Manifest: m, Observed: 1234, Started: at, Duration: 1500 * time.Millisecond,
		Result: baseline.Result{
			Findings: []baseline.Finding{
				{Path: "/etc/app.conf", Kind: baseline.Modified, Changes: baseline.AttrContent | baseline.AttrMode | baseline.AttrSize, Rule: cfg, Before: before, After: after,
					Owner: &baseline.Package{Manager: "dpkg", Name: "app", Version: "1.0"}, ByHand: true,
					Diff: "--- baked/etc/app.conf\n+++ now/etc/app.conf\n@@ -1 +1 @@\n-port=80\n+port=8080\n"},
				{Path: "/root/.ssh/authorized_keys", Kind: baseline.Added, Rule: ssh, After: &baseline.Entry{Path: "/root/.ssh/authorized_keys", Type: baseline.TypeRegular, Mode: 0o600, Size: 90, Mtime: at.UnixNano(), Digest: [32]byte{3}}, ByHand: true,
					By: &baseline.Actor{PID: 812, Comm: "sh", Exe: "/usr/bin/dash", UID: 0, User: "root", LoginUID: 0, Session: 12,
						Login: &baseline.Login{User: "root", From: "10.0.0.5", Port: 51234, Method: "publickey", Key: "SHA256:ptJepYBXbHIUnWAM5wOLkpdPSCDulgLpUUF8EMj9/eQ", SSHDPID: 800, Session: 12, Started: at}}},
			},
			Unverified: []baseline.Unverified{{Path: "/var/lib/secret", Reason: "open: permission denied"}},
		},
		Packages:        []baseline.PackageFinding{{Kind: baseline.Modified, Before: baseline.Package{Manager: "dpkg", Name: "openssl", Version: "3.0.1", Arch: "amd64"}, After: baseline.Package{Manager: "dpkg", Name: "openssl", Version: "3.0.2", Arch: "amd64"}}},
		PackagesChecked: true,
		PackageSeverity: baseline.SeverityHigh,
		Pending:         []baseline.Finding{{Path: "/etc/hostname", Kind: baseline.Modified, Changes: baseline.AttrContent, Rule: cfg}},
		Seal:            "unsealed", SealReason: "not sealed yet",
		Classes:        []baseline.Class{{Category: "config", Severity: baseline.SeverityHigh}, {Category: "ssh", Severity: baseline.SeverityCritical}, {Category: "system", Severity: baseline.SeverityMedium}},
		BaselineLabels: []string{"image", "version"},
		Taint:          &Taint{Tainted: true, Since: at, Reason: "critical drift: added /root/.ssh/authorized_keys", BaselineID: m.ID()},
	}
}

func TestGoldenCheckRenderings(t *testing.T) {
	r := goldenReport()
	var text, js bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	golden(t, "check.txt", text.Bytes())
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	golden(t, "check.json", js.Bytes())
	prom := filepath.Join(t.TempDir(), "driftd.prom")
	if err := r.WriteTextfile(prom); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "check.prom", data)
}

func TestGoldenStatusText(t *testing.T) {
	r := goldenReport()
	at := r.Started
	s := &StatusJSON{
		Status: StatusUnverified, Root: "/", BaselineID: r.Manifest.ID(), BaselineVerified: true, Labels: r.Manifest.Header.Labels,
		Watch:    WatchJSON{Enabled: true, Directories: 1500, Unwatched: 3, Attribution: "ebpf"},
		Packages: []PackageFindingJSON{NewPackageFindingJSON(&r.Packages[0], baseline.SeverityHigh)},
		SSH:      SSHJSON{Source: "/var/run/utmp", Sessions: []SessionJSON{{User: "root", RemoteHost: "10.0.0.9", TTY: "pts/0", Started: at}}, Logins: 2},
		Taint:    *r.Taint,
		Seal:     SealJSON{Reason: "waiting for cloud-init to finish"},
	}
	for i := range r.Result.Findings {
		s.Findings = append(s.Findings, TrackedJSON{FindingJSON: NewFindingJSON(&r.Result.Findings[i]), FirstSeen: at})
	}
	for _, u := range r.Result.Unverified {
		s.Unverified = append(s.Unverified, NewUnverifiedJSON(u))
	}
	s.Pending = []FindingJSON{NewFindingJSON(&r.Pending[0])}
	var text bytes.Buffer
	if err := WriteStatusText(&text, s, 0); err != nil {
		t.Fatal(err)
	}
	golden(t, "status.txt", text.Bytes())
}

func TestStatusFitsTheTerminal(t *testing.T) {
	long := "/srv/app/releases/2026-12-04T12-00-00Z/vendor/github.com/example/library/internal/deeply/nested/file.go"
	s := &StatusJSON{Status: StatusDrift, Root: "/", Findings: []TrackedJSON{
		{FindingJSON: FindingJSON{Path: long, Kind: "modified", Category: "system", Severity: "medium", Changes: []string{"content"}}},
		{FindingJSON: FindingJSON{Path: "/etc/motd", Kind: "added", Category: "config", Severity: "high"}},
	}}
	var text bytes.Buffer
	if err := WriteStatusText(&text, s, 100); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(text.String()), "\n") {
		if n := utf8.RuneCountInString(line); n > 100 {
			t.Errorf("a line of %d characters on a 100-column terminal: %q", n, line)
		}
	}
	if !strings.Contains(text.String(), "/srv/app/rel") || !strings.Contains(text.String(), "/file.go  ") || !strings.Contains(text.String(), "…") {
		t.Errorf("the long path is not shortened in its middle:\n%s", text.String())
	}
}
