package reporter

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"driftd/baseline"
	"driftd/baseline/walk"
)

func TestStatus(t *testing.T) {
	finding := []baseline.Finding{{Path: "/etc/x", Kind: baseline.Added, Rule: &baseline.Rule{Category: "config"}}}
	unverified := []baseline.Unverified{{Path: "/etc/y", Reason: "open: permission denied"}}
	tests := []struct {
		name     string
		verified bool
		res      baseline.Result
		want     Status
	}{
		{"clean", true, baseline.Result{}, StatusClean},
		{"drift", true, baseline.Result{Findings: finding}, StatusDrift},
		{"incomplete scan", true, baseline.Result{Unverified: unverified}, StatusUnverified},
		{"drift and incomplete", true, baseline.Result{Findings: finding, Unverified: unverified}, StatusUnverified},
		{"unverified baseline, no drift", false, baseline.Result{}, StatusUnverified},
		{"unverified baseline, drift", false, baseline.Result{Findings: finding}, StatusUnverified},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &CheckReport{Root: "/", Manifest: &baseline.Manifest{Verified: tt.verified}, Result: tt.res}
			if got := r.Status(); got != tt.want {
				t.Errorf("Status() = %s, want %s", got, tt.want)
			}
			var text bytes.Buffer
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if says := strings.Contains(text.String(), "clean"); says != (tt.want == StatusClean) {
				t.Errorf("text report says clean = %t for %s:\n%s", says, tt.want, text.String())
			}
		})
	}
}

func TestDisplayPath(t *testing.T) {
	tests := map[string]string{
		"/etc/passwd":     "/etc/passwd",
		"/ünïcode":        "/ünïcode",
		"/with space":     "/with space",
		"/new\nline":      `"/new\nline"`,
		"/bad\xff":        `"/bad\xff"`,
		`/back\slash`:     `"/back\\slash"`,
		"/esc\x1b[31mred": `"/esc\x1b[31mred"`,
	}
	for in, want := range tests {
		if got := DisplayPath(in); got != want {
			t.Errorf("DisplayPath(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestStatusFilter(t *testing.T) {
	s := StatusJSON{
		Status: StatusDrift,
		Findings: []TrackedJSON{
			{FindingJSON: FindingJSON{Path: "/etc/ssh/sshd_config", Category: "ssh", Severity: "critical"}},
			{FindingJSON: FindingJSON{Path: "/etc/motd", Category: "config", Severity: "high"}},
			{FindingJSON: FindingJSON{Path: "/usr/share/doc/x", Category: "system", Severity: "medium"}},
		},
		Packages: []PackageFindingJSON{{Name: "hello", Category: "package", Severity: "high"}},
	}
	critical, high := baseline.SeverityCritical, baseline.SeverityHigh
	tests := []struct {
		name   string
		filter StatusFilter
		want   string
		status Status
	}{
		{"none", StatusFilter{}, "[/etc/ssh/sshd_config /etc/motd /usr/share/doc/x] 1", StatusDrift},
		{"path", StatusFilter{Path: "/etc"}, "[/etc/ssh/sshd_config /etc/motd] 0", StatusDrift},
		{"path is not a prefix of a name", StatusFilter{Path: "/et"}, "[] 0", StatusClean},
		{"category", StatusFilter{Category: "ssh"}, "[/etc/ssh/sshd_config] 0", StatusDrift},
		{"severity and above", StatusFilter{MinSeverity: &high}, "[/etc/ssh/sshd_config /etc/motd] 1", StatusDrift},
		{"nothing left is clean", StatusFilter{Path: "/usr", MinSeverity: &critical}, "[] 0", StatusClean},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.filter.Apply(s)
			var paths []string
			for _, f := range got.Findings {
				paths = append(paths, f.Path)
			}
			if have := fmt.Sprint(paths, " ", len(got.Packages)); have != tt.want || got.Status != tt.status {
				t.Errorf("Apply: %s %s, want %s %s", fmt.Sprint(paths, " ", len(got.Packages)), got.Status, tt.want, tt.status)
			}
		})
	}
}

func TestETA(t *testing.T) {
	est := walk.Estimate{Entries: 1000, Bytes: 1 << 30}
	for _, tt := range []struct {
		entries, bytes int64
		est            walk.Estimate
		want           string
	}{
		{0, 0, walk.Estimate{}, ""},
		{5, 0, est, " (~0%)"},
		{250, 0, est, " (~25%, ~30s left)"},
		{250, 1 << 29, est, " (~50%, ~10s left)"}, // the further of the two
		{5000, 0, est, " (~99%, ~0s left)"},       // past the guess: never 100% before the end
	} {
		if got := eta(tt.entries, tt.bytes, tt.est, 10*time.Second); got != tt.want {
			t.Errorf("eta(%d, %d) = %q, want %q", tt.entries, tt.bytes, got, tt.want)
		}
	}
}
