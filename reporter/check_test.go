package reporter

import (
	"bytes"
	"strings"
	"testing"

	"driftd/baseline"
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
